import FoundationEssentials
import WUCore

/// `BundleReader.extract` on a bundle whose manifest a trusted key signed.
///
/// The input is the manifest's bytes, a NUL, then the tar stream of the payload entries. The harness
/// signs the manifest with its trusted key: a trusted but hostile signer is the threat (an unsigned
/// mutation never reaches the extractor). Asserts: a refusal is a `WUError` and removes the
/// destination; nothing is written outside the destination; an accepted bundle extracts to exactly
/// the manifest's files, regular files of the listed sizes.
enum BundleHarness {
    /// A fixed key, so that a saved input replays the same way everywhere.
    static let signer: SigningKey = {
        let seed = Data(repeating: 7, count: 32).base64EncodedString()
        return try! SigningKey(fileContents: "\(SigningKey.fileTag) \(seed) fuzz")
    }()
    static let trust = TrustStore(keys: [signer.publicKey])
    /// Small bounds, so that a declared size is refused before the fuzzer waits for it.
    static let limits: BundleLimits = {
        var limits = BundleLimits()
        limits.maxManifestBytes = 1 << 20
        limits.maxEntries = 256
        limits.maxFileBytes = 1 << 20
        limits.maxTotalBytes = 4 << 20
        return limits
    }()

    static func run(_ input: [UInt8]) throws(FuzzFailure) -> FuzzTarget.Outcome {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let verified = try refusingCleanly("BundleReader.extract") {
            try BundleReader.extract(.bytes(signedBundle(input)), trusting: trust, to: scratch.destination, limits: limits)
        }
        try scratch.checkNothingOutside()
        guard let verified else {
            try scratch.checkDestinationRemoved()
            return .rejected
        }
        let listed = Dictionary(verified.manifest.files.map { ($0.path, $0.size) }, uniquingKeysWith: { first, _ in first })
        guard try scratch.extractedFiles() == listed else { throw FuzzFailure("the extracted tree differs from the signed manifest's files") }
        return .accepted
    }

    /// The bundle an input describes: its bytes up to the first NUL as `WU-MANIFEST.json`, a fresh
    /// `WU-SIGNATURE` over them, then the rest of the input as it is.
    static func signedBundle(_ input: [UInt8]) throws -> [UInt8] {
        let split = input.firstIndex(of: 0) ?? input.endIndex
        let manifest = Array(input[..<split])
        let payload = split < input.endIndex ? input[(split + 1)...] : []
        let signature = try BundleSignature.sign(manifest, with: signer).encoded()
        return TarEntry.regularFile(named: Manifest.entryName, contents: manifest)
            + TarEntry.regularFile(named: BundleSignature.entryName, contents: signature) + payload
    }
}
