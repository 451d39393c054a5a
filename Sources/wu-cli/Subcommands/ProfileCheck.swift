import ArgumentParser
import WUSandbox

extension WU {
    /// `wu profile check job.wu [--runner-profiles default,strict]`.
    struct ProfileCheck: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Show the profile a bundle asks for, whether a runner allows it, and its resources against the profile's bounds.",
            discussion: "Reads only the manifest (nothing is verified or extracted). Exit status: 0 when a runner would run it, 1 when refused."
        )

        @Argument(help: "The .wu bundle.")
        var bundle: String

        @Option(help: "The profiles the runner allows, comma-separated (default: every built-in profile).")
        var runnerProfiles: String?

        @Option(help: "Directory whose <name>.json overrides the built-in profiles.")
        var profileDir: String?

        @Flag(help: "Print the check as JSON.")
        var json = false

        func run() throws {
            let allowed = runnerProfiles.map { $0.split(separator: ",").map { String($0).trimmingCharacters() } } ?? SandboxProfile.builtinNames
            let check = try WUSandbox.ProfileCheck(bundle: bundle, allowed: allowed, profileDirectory: profileDir)
            print(json ? try ProfileJSON.text(check) : check.text)
            if !check.passes { throw ExitCode(1) }
        }
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
