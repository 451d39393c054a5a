import ArgumentParser
import WUSandbox

extension WU {
    /// `wu profile diff A B`.
    struct ProfileDiff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "Show what B grants that A does not, and the reverse, section by section.",
            discussion: "Exit status: 0 when B grants nothing beyond A, 1 when it does (or on error)."
        )

        @Argument(help: "Profile A: a name or a file.")
        var a: String

        @Argument(help: "Profile B: a name or a file.")
        var b: String

        @Option(help: "Directory whose <name>.json overrides the built-in profiles.")
        var profileDir: String?

        @Flag(help: "Print the differences as JSON.")
        var json = false

        func run() throws {
            let (pa, _) = try SandboxProfile.load(reference: a, directory: profileDir)
            let (pb, _) = try SandboxProfile.load(reference: b, directory: profileDir)
            let diff = WUSandbox.ProfileDiff(pa, pb)
            print(json ? try ProfileJSON.text(diff) : diff.text)
            if !pb.isNoWider(than: pa) { throw ExitCode(1) }
        }
    }
}
