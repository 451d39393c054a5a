import WUCore

/// `OutputArchive.verify`, the orchestrator's check of an uploaded output on `complete`, against
/// `OutputArchive.extract`, what `wu results` and an aggregate's runner do with it afterwards.
///
/// The input is the uncompressed output tar, compressed by the harness and named with its true
/// digest (a hostile runner knows it). Asserts: a refusal is a `WUError`; whatever `verify`
/// accepts, `extract` accepts too under the same limits. An output the orchestrator acknowledged
/// but no one can extract would be a result lost after the fact.
enum VerifyHarness {
    static func run(_ input: [UInt8]) throws(FuzzFailure) -> FuzzTarget.Outcome {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let blob = scratch.inputDirectory + "/" + OutputHarness.blobName
        try OutputHarness.compress(input, to: blob)
        let digest = Digest.sha256(input)
        let limits = OutputHarness.limits
        let verified: Void? = try refusingCleanly("OutputArchive.verify") {
            try OutputArchive.verify(compressed: blob, outputDigest: digest, limits: limits)
        }
        guard verified != nil else { return .rejected }
        let extracted: Void? = try refusingCleanly("OutputArchive.extract") {
            try OutputArchive.extract(compressed: blob, expectedOutputDigest: digest, to: scratch.destination, limits: limits)
        }
        guard extracted != nil else { throw FuzzFailure("verify accepted an output that extract refuses") }
        try scratch.checkNothingOutside(inputs: [OutputHarness.blobName])
        return .accepted
    }
}
