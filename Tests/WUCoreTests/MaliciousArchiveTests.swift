import CArchive
import Testing
@testable import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// hostile-units.md items 32–34: crafted archives, each signed by a *trusted* key so that only the
/// check under test can stop them. Each is rejected with its own error, nothing lands outside the
/// destination, and the destination itself is removed.
@Suite struct MaliciousArchiveTests {
    let key = SigningKey.generate(name: "trusted")

    /// Extracts `entries` into `<tmp>/box/dest` and checks that nothing escaped into `<tmp>` or `/tmp`.
    func extract(_ entries: [TarEntry], limits: BundleLimits = .default, zstd: Bool = true) throws {
        let tmp = TemporaryDirectory("wu-evil")
        defer { tmp.remove() }
        try FileIO.makeDirectories(tmp.path + "/box")
        try writeTar(entries, to: tmp.path + "/evil.wu", zstd: zstd)
        let before = listTree(tmp.path)
        defer {
            let after = listTree(tmp.path)
            #expect(after == before, "the file system changed: \(Set(after).symmetricDifference(before))")
            #expect(access("/tmp/wu-escaped-\(getpid())", F_OK) != 0)
        }
        _ = try BundleReader.extract(.file(tmp.path + "/evil.wu"), trusting: TrustStore(keys: [key.publicKey]), to: tmp.path + "/box/dest", limits: limits)
    }

    /// A bundle whose manifest lists `listed` but whose archive holds `payload`.
    func bundle(listing listed: [(String, [UInt8])], payload: [TarEntry]) throws -> [TarEntry] {
        try signedMetadata(files: listed, key: key) + payload
    }

    @Test func dotDotPath() throws {
        let evil = Array("owned\n".utf8)
        let entries = try bundle(listing: [("code/run.sh", evil)], payload: [TarEntry(name: "code/../../../wu-escaped", bytes: evil)])
        expectWUError(.unsafeEntry, containing: "contains '..'") { try extract(entries) }
    }

    @Test func absolutePath() throws {
        let evil = Array("owned\n".utf8)
        let entries = try bundle(listing: [("code/run.sh", evil)], payload: [TarEntry(name: "/tmp/wu-escaped-\(getpid())", bytes: evil)])
        expectWUError(.unsafeEntry, containing: "absolute path") { try extract(entries) }
    }

    @Test func symlinkLeavingTheTree() throws {
        let entries = try bundle(listing: [("code/link", [])], payload: [TarEntry(name: "code/link", kind: .symlink("/etc/shadow"))])
        expectWUError(.unsafeEntry, containing: "symbolic link to /etc/shadow") { try extract(entries) }
    }

    @Test func symlinkThenWriteThroughIt() throws {
        // The classic two-step: a link to the outside, then a file "inside" the link.
        let evil = Array("owned\n".utf8)
        let entries = try bundle(
            listing: [("code/dir", []), ("code/dir/x", evil)],
            payload: [TarEntry(name: "code/dir", kind: .symlink("/tmp")), TarEntry(name: "code/dir/x", bytes: evil)]
        )
        expectWUError(.unsafeEntry, containing: "symbolic link") { try extract(entries) }
    }

    @Test func hardlinkLeavingTheTree() throws {
        let entries = try bundle(listing: [("code/passwd", [])], payload: [TarEntry(name: "code/passwd", kind: .hardlink("/etc/passwd"))])
        expectWUError(.unsafeEntry, containing: "hard link to /etc/passwd") { try extract(entries) }
    }

    @Test func deviceNode() throws {
        let entries = try bundle(listing: [("code/mem", [])], payload: [TarEntry(name: "code/mem", kind: .characterDevice)])
        expectWUError(.unsafeEntry, containing: "device node") { try extract(entries) }
    }

    @Test func fifo() throws {
        let entries = try bundle(listing: [("code/pipe", [])], payload: [TarEntry(name: "code/pipe", kind: .fifo)])
        expectWUError(.unsafeEntry, containing: "FIFO") { try extract(entries) }
    }

    @Test func setuidFile() throws {
        let bytes = Array("#!/bin/sh\nid\n".utf8)
        let entries = try bundle(listing: [("code/su", bytes)], payload: [TarEntry(name: "code/su", bytes: bytes, mode: 0o4755)])
        expectWUError(.unsafeEntry, containing: "setuid") { try extract(entries) }
    }

    @Test func directoryEntry() throws {
        let entries = try bundle(listing: [("code/a", [1])], payload: [TarEntry(name: "code/", kind: .directory), TarEntry(name: "code/a", bytes: [1])])
        expectWUError(.unsafeEntry, containing: "directory entry") { try extract(entries) }
    }

    @Test func unlistedPayloadFile() throws {
        let a = Array("a".utf8)
        let entries = try bundle(listing: [("code/a", a)], payload: [TarEntry(name: "code/a", bytes: a), TarEntry(name: "code/b", bytes: a)])
        expectWUError(.unlistedEntry, containing: "code/b") { try extract(entries) }
    }

    @Test func changedByte() throws {
        let entries = try bundle(listing: [("code/a", Array("abc".utf8))], payload: [TarEntry(name: "code/a", bytes: Array("abd".utf8))])
        expectWUError(.tamperedFile, containing: "SHA-256") { try extract(entries) }
    }

    @Test func fileLargerThanTheManifestSays() throws {
        let entries = try bundle(listing: [("code/a", Array("abc".utf8))], payload: [TarEntry(name: "code/a", bytes: Array("abcdef".utf8))])
        expectWUError(.tamperedFile, containing: "6 bytes in the archive but 3 in the manifest") { try extract(entries) }
    }

    @Test func duplicateEntry() throws {
        let a = Array("a".utf8)
        let entries = try bundle(listing: [("code/a", a)], payload: [TarEntry(name: "code/a", bytes: a), TarEntry(name: "code/a", bytes: a)])
        expectWUError(.duplicateEntry, containing: "twice") { try extract(entries) }
    }

    @Test func signedByAnUntrustedKey() throws {
        let a = Array("a".utf8)
        let entries = try signedMetadata(files: [("code/a", a)], key: SigningKey.generate(name: "mallory")) + [TarEntry(name: "code/a", bytes: a)]
        expectWUError(.untrustedKey, containing: "not trusted") { try extract(entries) }
    }

    @Test func signedManifestWithAnUnsafePath() throws {
        // A trusted key can still sign nonsense: the manifest's own paths are checked.
        let a = Array("a".utf8)
        let listed = [Manifest.File(path: "code/../../x", sha256: Digest.sha256(a), size: 1, mode: 0o644)]
        let entries = try signedMetadata(listed: listed, key: key) + [TarEntry(name: "code/../../x", bytes: a)]
        expectWUError(.invalidManifest, containing: "not a safe path") { try extract(entries) }
    }

    /// 1 GiB of zeros in under 2 MiB: stopped by the ratio limit long before it is inflated.
    @Test func decompressionBomb() throws {
        let gib = 1 << 30
        let zeros = [UInt8](repeating: 0, count: gib)
        let listed = [Manifest.File(path: "inputs/zeros", sha256: Digest.sha256(zeros), size: Int64(gib), mode: 0o644)]
        let tmp = TemporaryDirectory("wu-bomb")
        defer { tmp.remove() }
        try writeTar(try signedMetadata(listed: listed, key: key) + [TarEntry(name: "inputs/zeros", bytes: zeros)], to: tmp.path + "/bomb.wu", level: 19)
        let size = try FileIO.lstat(tmp.path + "/bomb.wu").st_size
        #expect(size < 2 << 20, "the bomb is \(size) bytes")
        expectWUError(.limitExceeded, containing: "decompression bomb") {
            _ = try BundleReader.extract(.file(tmp.path + "/bomb.wu"), trusting: TrustStore(keys: [key.publicKey]), to: tmp.path + "/dest")
        }
        #expect(access(tmp.path + "/dest", F_OK) != 0, "the destination was left behind")
    }

    /// 200,000 tiny entries, all listed in a signed manifest: stopped at the entry limit.
    @Test func tooManyEntries() throws {
        let empty = Digest.sha256([])
        let listed = (0..<200_000).map { Manifest.File(path: "inputs/f\(100_000 + $0)", sha256: empty, size: 0, mode: 0o644) }
        var entries = try signedMetadata(listed: listed, key: key)
        entries += listed.map { TarEntry(name: $0.path) }
        var limits = BundleLimits()
        limits.maxManifestBytes = 64 << 20
        expectWUError(.limitExceeded, containing: "100000 entries") { try extract(entries, limits: limits) }
        // With the default manifest limit the manifest itself is refused first.
        expectWUError(.limitExceeded, containing: "WU-MANIFEST.json is") { try extract(entries) }
    }
}
