import FoundationEssentials

/// The public keys whose signatures a verifier accepts, by key id.
public struct TrustStore: Sendable {
    public private(set) var keysByID: [String: PublicSigningKey]

    public init(keys: [PublicSigningKey] = []) {
        keysByID = [:]
        for key in keys { keysByID[key.keyID] = key }
    }

    /// Loads `.pub` files and every `*.pub` in a directory.
    ///
    /// - Throws: `WUError.invalidKey` for an unreadable or malformed file; `invalidArgument` when nothing is trusted.
    public static func load(files: [String], directory: String? = nil) throws -> TrustStore {
        var paths = files
        if let directory {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                throw WUError(.invalidKey, "cannot list the trust directory \(directory): \(error)")
            }
            paths += names.filter { $0.hasSuffix(".pub") }.sorted().map { directory + "/" + $0 }
        }
        var keys: [PublicSigningKey] = []
        for path in paths {
            keys.append(try KeyFiles.loadPublic(path))
        }
        guard !keys.isEmpty else {
            throw WUError(.invalidArgument, "no trusted key given: pass --trust KEY.pub or --trust-dir DIR holding .pub files")
        }
        return TrustStore(keys: keys)
    }

    public func key(id: String) -> PublicSigningKey? { keysByID[id] }
}
