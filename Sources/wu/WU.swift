import ArgumentParser
import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// `wu`: the requester's and reviewer's command line.
@main
struct WU: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wu",
        abstract: "Pack, verify and run signed work-unit bundles.",
        discussion: "Exit status: 0 ok, 1 error, 2 invalid input, 3 untrusted or bad signature, 4 tampered or unsafe bundle.",
        subcommands: [
            Keygen.self, Pack.self, Verify.self, Inspect.self, Run.self, Sandbox.self, Doctor.self,
            Submit.self, Status.self, Wait.self, Results.self, Cancel.self, Pause.self, Resume.self,
        ]
    )

    /// Runs the command; a `WUError` exits with its documented status and a one-line message.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as WUError {
            let line = Array("wu: error: \(error.description)\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            Glibc.exit(error.exitCode)
        } catch {
            exit(withError: error)
        }
    }
}
