import ArgumentParser

extension WU {
    /// `wu profile …`: the security reviewer's tools for sandbox profiles.
    struct Profile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "profile",
            abstract: "Explain, compare, lint and learn sandbox profiles, and check a bundle's profile request.",
            subcommands: [ProfileExplain.self, ProfileDiff.self, ProfileLint.self, ProfileCheck.self, ProfileLearn.self]
        )
    }
}
