import ArgumentParser
import WUCommandLine
import WUCore
import WUClient
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
        discussion: """
            Exit status: 0 ok, 1 error, 2 invalid input (a bad flag, wu.json, a size), 3 untrusted key, bad signature or \
            refused token, 4 tampered or unsafe bundle, 5 `wu wait --timeout` gave up.
            """,
        version: WUVersion.current,
        subcommands: [
            Keygen.self, Pack.self, Verify.self, Inspect.self, Run.self, Sandbox.self, Doctor.self,
            Submit.self, Status.self, Wait.self, Results.self, Cancel.self, Pause.self, Resume.self, Leaderboard.self, Profile.self,
        ]
    )

    /// Runs the command; every error ends as one `wu: error: …` line and a status from README.md.
    static func main() async {
        // The lean `wu` front runs plain `wu sandbox exec` itself; this covers `wu-cli sandbox exec`.
        if let options = SandboxExecCommand.parse(CommandLine.arguments) { Glibc.exit(await SandboxExecCommand.runDetached(options)) }
        await CommandLineExit.main(WU.self, program: "wu", explain: OrchestratorErrorText.explain)
    }
}
