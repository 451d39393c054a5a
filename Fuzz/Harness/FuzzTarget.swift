/// One fuzz target: a parser or extractor that takes untrusted bytes, with the harness that checks it.
///
/// `make fuzz` hands each libFuzzer input to ``run(_:)``; FuzzCorpusTests replays the saved corpus
/// (`Fuzz/corpus/<target>/`) through the same function. Rejecting an input with a clear error is
/// the expected outcome for most of them; a ``FuzzFailure`` (or a crash) is a bug.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `WU-MANIFEST.json` and `wu.json`.
    case manifest
    /// A bundle re-signed by a trusted key, verified and extracted.
    case bundle
    /// A sandbox profile, parsed, rendered and reviewed.
    case profile
    /// An output archive, extracted as an aggregate's input.
    case output
    /// An output archive checked as the orchestrator checks it on `complete`, then extracted.
    case verify

    public enum Outcome: Sendable, Equatable {
        /// The input passed every check (a valid manifest, bundle, profile or archive).
        case accepted
        /// The input was refused with an error of the module's own type.
        case rejected
    }

    public func run(_ input: [UInt8]) throws(FuzzFailure) -> Outcome {
        switch self {
        case .manifest: try ManifestHarness.run(input)
        case .bundle: try BundleHarness.run(input)
        case .profile: try ProfileHarness.run(input)
        case .output: try OutputHarness.run(input)
        case .verify: try VerifyHarness.run(input)
        }
    }
}

/// A broken promise of the code under test: what the fuzzer reports as a crash.
public struct FuzzFailure: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }
}
