import ArgumentParser
import WUCore
import WURunner
#if canImport(Glibc)
import Glibc
#endif

/// `wu`: the requester's and reviewer's command line.
@main
struct WU: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wu",
        abstract: "Pack, verify and run signed work-unit bundles.",
        discussion: "Exit status: 0 ok, 1 error, 2 invalid input, 3 untrusted key, bad signature or refused credentials, 4 tampered or unsafe bundle.",
        subcommands: [
            Keygen.self, Pack.self, Verify.self, Inspect.self, Run.self, Sandbox.self, Doctor.self,
            Submit.self, Status.self, Wait.self, Results.self, Cancel.self, Pause.self, Resume.self, Leaderboard.self, Profile.self,
        ]
    )

    /// Runs the command; a `WUError` exits with its documented status and a one-line message.
    static func main() async {
        // `wu sandbox exec` is started once per unit by benchmarks and scripts: skip ArgumentParser's
        // command-tree scan when the arguments are plain (SandboxExec.fastMain returns nil otherwise).
        if let status = await SandboxExec.fastMain(CommandLine.arguments) { Glibc.exit(status) }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as WUError {
            FileHandleLine.standardError("wu: error: \(error.description)")
            Glibc.exit(error.exitCode)
        } catch let error as ClientError {
            FileHandleLine.standardError("wu: error: \(error.description)")
            Glibc.exit(error.status == 401 || error.status == 403 ? 3 : 1)
        } catch {
            exit(withError: error)
        }
    }
}
