import FoundationEssentials

/// `WU-SIGNATURE`: an Ed25519 signature over the exact manifest bytes, and the signer's key id.
///
/// JSON: `{"algorithm": "ed25519", "key_id": "…", "signature": "<base64>"}`.
public struct BundleSignature: Codable, Sendable, Equatable {
    public static let entryName = "WU-SIGNATURE"

    public var algorithm: String
    public var keyID: String
    public var signature: String

    enum CodingKeys: String, CodingKey {
        case algorithm
        case keyID = "key_id"
        case signature
    }

    /// Signs manifest bytes.
    public static func sign(_ manifestBytes: [UInt8], with key: SigningKey) throws -> BundleSignature {
        let signature = try key.signature(for: manifestBytes)
        return BundleSignature(algorithm: "ed25519", keyID: key.publicKey.keyID, signature: Data(signature).base64EncodedString())
    }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }

    /// Reads signature bytes without checking them.
    public static func decode(_ bytes: [UInt8]) throws -> BundleSignature {
        guard let signature = try? JSONDecoder().decode(BundleSignature.self, from: Data(bytes)) else {
            throw WUError(.badSignature, "\(entryName) is not a wu signature (expected JSON with algorithm, key_id, signature)")
        }
        return signature
    }

    /// Checks manifest bytes against signature bytes and a trust store, then decodes and validates the manifest.
    ///
    /// This is what a runner does with the manifest and signature blobs it fetched.
    /// - Returns: the manifest and the signer's key.
    /// - Throws: `untrustedKey` naming the key id, `badSignature`, or `invalidManifest`.
    public static func verify(manifestBytes: [UInt8], signatureBytes: [UInt8], trusting trust: TrustStore) throws -> (Manifest, PublicSigningKey) {
        let signature = try decode(signatureBytes)
        guard signature.algorithm == "ed25519" else {
            throw WUError(.badSignature, "\(entryName) uses algorithm '\(signature.algorithm)'; only ed25519 is accepted")
        }
        guard let key = trust.key(id: signature.keyID) else {
            let known = trust.keysByID.keys.sorted().joined(separator: ", ")
            throw WUError(
                .untrustedKey,
                "the bundle is signed by key \(signature.keyID), which is not trusted (trusted: \(known.isEmpty ? "none" : known)); add the signer's .pub with --trust if you trust it"
            )
        }
        guard let raw = Data(base64Encoded: signature.signature), key.isValidSignature(Array(raw), for: manifestBytes) else {
            throw WUError(.badSignature, "the signature of key \(signature.keyID) (\(key.name)) does not match \(Manifest.entryName): the manifest was changed after signing, or the signature was")
        }
        return (try Manifest.decode(manifestBytes), key)
    }
}
