import FoundationEssentials
import Testing
@testable import WUCore

/// Every way to change a signed bundle after packing is caught, each with its own error.
@Suite struct TamperTests {
    let tmp = TemporaryDirectory()
    let alice = SigningKey.generate(name: "alice")
    let mallory = SigningKey.generate(name: "mallory")

    func packed() throws -> [TarEntry] {
        _ = try BundlePacker.pack(jobDirectory: try makeJob(in: tmp), key: alice, output: tmp.path + "/good.wu")
        return try readEntries(tmp.path + "/good.wu")
    }

    func verify(_ entries: [TarEntry]) throws {
        defer { tmp.remove() }
        try writeTar(entries, to: tmp.path + "/bad.wu")
        _ = try BundleReader.verify(.file(tmp.path + "/bad.wu"), trusting: TrustStore(keys: [alice.publicKey]))
    }

    @Test func untouchedBundleVerifies() throws {
        let entries = try packed()
        #expect(entries.map(\.name) == ["WU-MANIFEST.json", "WU-SIGNATURE", "code/run.sh", "inputs/a.txt", "inputs/sub/b.txt"])
        try verify(entries)
    }

    @Test func manifestByteChanged() throws {
        var entries = try packed()
        let text = String(decoding: entries[0].bytes, as: UTF8.self).replacingFirst("\"version\" : \"1\"", with: "\"version\" : \"2\"")
        #expect(Array(text.utf8) != entries[0].bytes)
        entries[0].bytes = Array(text.utf8)
        expectWUError(.badSignature, containing: "does not match") { try verify(entries) }
    }

    @Test func signatureFromAnotherKey() throws {
        var entries = try packed()
        entries[1].bytes = try BundleSignature.sign(entries[0].bytes, with: mallory).encoded()
        expectWUError(.untrustedKey, containing: mallory.publicKey.keyID) { try verify(entries) }
    }

    @Test func anotherKeysSignatureUnderTheTrustedKeyID() throws {
        var entries = try packed()
        var forged = try BundleSignature.sign(entries[0].bytes, with: mallory)
        forged.keyID = alice.publicKey.keyID
        entries[1].bytes = try forged.encoded()
        expectWUError(.badSignature) { try verify(entries) }
    }

    @Test func payloadByteChanged() throws {
        var entries = try packed()
        entries[3].bytes[0] ^= 0x01
        expectWUError(.tamperedFile, containing: "inputs/a.txt has SHA-256") { try verify(entries) }
    }

    @Test func fileAppended() throws {
        var entries = try packed()
        entries.append(TarEntry(name: "code/extra.sh", bytes: Array("rm -rf /\n".utf8)))
        expectWUError(.unlistedEntry, containing: "code/extra.sh") { try verify(entries) }
    }

    @Test func fileRemoved() throws {
        var entries = try packed()
        entries.remove(at: 4)
        expectWUError(.missingEntry, containing: "inputs/sub/b.txt") { try verify(entries) }
    }

    @Test func payloadOrderChanged() throws {
        var entries = try packed()
        entries.swapAt(3, 4)
        expectWUError(.entryOrder, containing: "inputs/sub/b.txt comes before inputs/a.txt") { try verify(entries) }
    }

    @Test func manifestAndSignatureSwapped() throws {
        var entries = try packed()
        entries.swapAt(0, 1)
        expectWUError(.entryOrder, containing: "first entry must be WU-MANIFEST.json") { try verify(entries) }
    }

    @Test func truncatedArchive() throws {
        defer { tmp.remove() }
        _ = try packed()
        let bytes = try tmp.read("good.wu")
        for cut in [bytes.count / 2, bytes.count - 40, 30] {
            let truncated = Array(bytes.prefix(cut))
            do {
                _ = try BundleReader.verify(.bytes(truncated), trusting: TrustStore(keys: [alice.publicKey]))
                Issue.record("a bundle cut at \(cut) of \(bytes.count) bytes verified")
            } catch let error as WUError {
                #expect([.corruptArchive, .missingEntry].contains(error.code), "\(error.code): \(error.message)")
            }
        }
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        replacing(target, with: replacement, maxReplacements: 1)
    }
}
