import ArgumentParser
import WUCore
import WURunner
import WUSandbox
#if canImport(Glibc)
import Glibc
#endif

/// `wu-cli`: the requester's and reviewer's command line, reached as `wu` (the lean front in
/// Sources/wu forwards every command but `sandbox exec` here).
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
        // The lean `wu` front runs plain `wu sandbox exec` itself; this covers `wu-cli sandbox exec`.
        if let options = SandboxExecCommand.parse(CommandLine.arguments) { Glibc.exit(await SandboxExecCommand.runDetached(options)) }
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
