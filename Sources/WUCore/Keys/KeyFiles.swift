import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Reading and writing key files with the right permissions.
public enum KeyFiles {
    /// Writes `PREFIX.key` (mode 0600, never overwritten) and `PREFIX.pub`.
    ///
    /// - Throws: `invalidKey` if either file exists.
    @discardableResult
    public static func generate(prefix: String) throws -> SigningKey {
        let name = prefix.split(separator: "/").last.map(String.init) ?? prefix
        let key = SigningKey.generate(name: name)
        for path in [prefix + ".key", prefix + ".pub"] where access(path, F_OK) == 0 {
            throw WUError(.invalidKey, "\(path) already exists; wu keygen never overwrites a key (choose another name or remove it)")
        }
        try write(key.fileContents, to: prefix + ".key", mode: 0o600)
        try write(key.publicKey.fileContents, to: prefix + ".pub", mode: 0o644)
        return key
    }

    public static func loadPrivate(_ path: String) throws -> SigningKey {
        let bytes = try FileIO.readFile(path, limit: 64 << 10)
        return try SigningKey(fileContents: String(decoding: bytes, as: UTF8.self), source: path)
    }

    public static func loadPublic(_ path: String) throws -> PublicSigningKey {
        let bytes = try FileIO.readFile(path, limit: 64 << 10)
        return try PublicSigningKey(fileContents: String(decoding: bytes, as: UTF8.self), source: path)
    }

    static func write(_ text: String, to path: String, mode: mode_t) throws {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: mode)
        defer { close(fd) }
        fchmod(fd, mode)
        try Array(text.utf8).withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
    }
}
