import WUProfiles

/// `SandboxProfile.parse`, then what the orchestrator and `wu profile` do with a requester's profile.
///
/// Asserts: a refusal is a `SandboxError` with a message; a profile that parses renders
/// (``SandboxProfile/jsonText``) to text that parses back to an equal profile; admission against the
/// built-in profiles and the lint finish on it.
enum ProfileHarness {
    /// What a carried profile is admitted against when the operator configured nothing else.
    static let builtins = SandboxProfile.builtins()

    static func run(_ input: [UInt8]) throws(FuzzFailure) -> FuzzTarget.Outcome {
        let profile: SandboxProfile
        do {
            profile = try SandboxProfile.parse(input, origin: "fuzz")
        } catch {
            guard !error.message.isEmpty else { throw FuzzFailure("SandboxProfile.parse refused with an empty message") }
            return .rejected
        }
        var again: SandboxProfile
        do {
            again = try SandboxProfile.parse(Array(profile.jsonText.utf8), origin: "fuzz (rendered)")
        } catch {
            throw FuzzFailure("a valid profile's jsonText does not parse: \(error)")
        }
        again.sourceBytes = profile.sourceBytes
        guard again == profile else { throw FuzzFailure("a valid profile's jsonText parses to a different profile") }
        _ = profile.admission(among: builtins)
        _ = ProfileLint.lint(profile)
        return .accepted
    }
}
