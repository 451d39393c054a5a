import ArgumentParser
import FoundationEssentials
import WUSandbox

extension WU {
    /// `wu profile explain NAME|FILE [--json]`.
    struct ProfileExplain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "explain",
            abstract: "Describe a profile in plain words: namespaces, host paths, devices, network, limits, environment, syscalls by purpose."
        )

        @Argument(help: "A profile name (built in: default, strict) or a profile file (a path containing '/' or ending in .json).")
        var profile: String

        @Option(help: "Directory whose <name>.json overrides the built-in profiles.")
        var profileDir: String?

        @Flag(help: "Print the explanation as JSON.")
        var json = false

        func run() throws {
            let (loaded, origin) = try SandboxProfile.load(reference: profile, directory: profileDir)
            let explanation = ProfileExplanation(loaded, origin: origin)
            if json {
                print(try ProfileJSON.text(explanation))
            } else {
                print(explanation.text)
            }
        }
    }

    /// Pretty, sorted JSON for the profile commands.
    enum ProfileJSON {
        static func text(_ value: some Encodable) throws -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        }
    }
}
