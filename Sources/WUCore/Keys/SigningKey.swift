public import Crypto
import FoundationEssentials

/// A requester's Ed25519 private key, as stored in `NAME.key`.
///
/// File format: one line `wu-ed25519-private <base64 of the 32-byte seed> NAME`.
public struct SigningKey: Sendable {
    public static let fileTag = "wu-ed25519-private"

    public let name: String
    public let privateKey: Curve25519.Signing.PrivateKey

    public init(name: String, privateKey: Curve25519.Signing.PrivateKey) {
        self.name = name
        self.privateKey = privateKey
    }

    /// A new random key.
    public static func generate(name: String) -> SigningKey {
        SigningKey(name: name, privateKey: Curve25519.Signing.PrivateKey())
    }

    /// Reads a `.key` file's contents.
    ///
    /// - Throws: `WUError.invalidKey` naming what is wrong.
    public init(fileContents: String, source: String = "key file") throws {
        let fields = fileContents.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
        guard fields.count >= 2, fields[0] == Self.fileTag else {
            throw WUError(.invalidKey, "\(source) is not a wu private key: it should start with '\(Self.fileTag)' (make one with `wu keygen NAME`)")
        }
        guard let seed = Data(base64Encoded: fields[1]), seed.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        else {
            throw WUError(.invalidKey, "\(source): the key material is not 32 bytes of base64")
        }
        self.init(name: fields.count > 2 ? fields[2] : "", privateKey: key)
    }

    public var fileContents: String {
        "\(Self.fileTag) \(privateKey.rawRepresentation.base64EncodedString()) \(name)\n"
    }

    public var publicKey: PublicSigningKey {
        PublicSigningKey(name: name, key: privateKey.publicKey)
    }

    public func signature(for bytes: [UInt8]) throws -> [UInt8] {
        Array(try privateKey.signature(for: bytes))
    }
}

/// A trusted signer's Ed25519 public key, as stored in `NAME.pub`.
///
/// File format: one line `wu-ed25519 <base64 of the 32-byte key> NAME`.
public struct PublicSigningKey: Sendable, Hashable {
    public static let fileTag = "wu-ed25519"

    public let name: String
    public let rawRepresentation: [UInt8]

    public init(name: String, key: Curve25519.Signing.PublicKey) {
        self.name = name
        self.rawRepresentation = Array(key.rawRepresentation)
    }

    /// Reads a `.pub` file's contents.
    ///
    /// - Throws: `WUError.invalidKey` naming what is wrong.
    public init(fileContents: String, source: String = "public key file") throws {
        let fields = fileContents.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
        guard fields.count >= 2, fields[0] == Self.fileTag else {
            throw WUError(.invalidKey, "\(source) is not a wu public key: it should start with '\(Self.fileTag)' (the .pub file `wu keygen` wrote)")
        }
        guard let raw = Data(base64Encoded: fields[1]), raw.count == 32,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
        else {
            throw WUError(.invalidKey, "\(source): the key material is not 32 bytes of base64")
        }
        self.init(name: fields.count > 2 ? fields[2] : "", key: key)
    }

    public var fileContents: String {
        "\(Self.fileTag) \(Data(rawRepresentation).base64EncodedString()) \(name)\n"
    }

    /// A short id: the first 8 bytes of the SHA-256 of the raw key, in hex.
    public var keyID: String {
        Digest.hex(Array(SHA256.hash(data: rawRepresentation).prefix(8)))
    }

    public func isValidSignature(_ signature: [UInt8], for bytes: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation) else { return false }
        return key.isValidSignature(signature, for: bytes)
    }
}
