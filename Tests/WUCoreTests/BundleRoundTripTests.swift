import CArchive
import Testing
@testable import WUCore

@Suite struct BundleRoundTripTests {
    /// pack → verify → extract for every example in `bundles/`, comparing each extracted file with its source.
    @Test(arguments: ["hello", "wordcount", "sha256"])
    func examplesRoundTrip(name: String) throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let key = SigningKey.generate(name: "alice")
        let job = repositoryRoot + "/bundles/" + name
        let packed = try BundlePacker.pack(jobDirectory: job, key: key, output: tmp.path + "/job.wu")
        let trust = TrustStore(keys: [key.publicKey])

        let verified = try BundleReader.verify(.file(tmp.path + "/job.wu"), trusting: trust)
        #expect(verified.manifest == packed.manifest)
        #expect(verified.manifestBytes == packed.manifestBytes)
        #expect(verified.signer.keyID == key.publicKey.keyID)

        let extracted = try BundleReader.extract(.file(tmp.path + "/job.wu"), trusting: trust, to: tmp.path + "/out")
        #expect(extracted.manifest.files.count == packed.manifest.files.count)
        #expect(!packed.manifest.files.isEmpty)
        for file in packed.manifest.files {
            #expect(try FileIO.readFile(tmp.path + "/out/" + file.path) == FileIO.readFile(job + "/" + file.path), "\(file.path)")
            let st = try FileIO.lstat(tmp.path + "/out/" + file.path)
            #expect(Int(st.st_mode & 0o7777) == file.mode)
        }
        #expect(listTree(tmp.path + "/out").filter { !$0.hasSuffix("code") && !$0.hasSuffix("inputs") }.count >= packed.manifest.files.count)
    }

    @Test func splitMakesOneUnitPerInputWithItsPathLast() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let packed = try BundlePacker.pack(
            jobDirectory: repositoryRoot + "/bundles/wordcount", key: .generate(name: "k"), output: tmp.path + "/w.wu"
        )
        #expect(packed.manifest.units.map(\.id) == ["part-1", "part-2", "part-3"])
        #expect(packed.manifest.units[0].args == ["/in/part-1.txt"])
        #expect(packed.manifest.units[0].inputs == ["inputs/part-1.txt"])
        #expect(packed.manifest.files(forUnit: "part-2").map(\.path) == ["code/count.py", "code/sum.py", "inputs/part-2.txt"])
    }

    @Test func verifiesFromMemoryToo() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let key = SigningKey.generate(name: "k")
        _ = try BundlePacker.pack(jobDirectory: try makeJob(in: tmp), key: key, output: tmp.path + "/j.wu")
        let verified = try BundleReader.verify(.bytes(try tmp.read("j.wu")), trusting: TrustStore(keys: [key.publicKey]))
        #expect(verified.manifest.files.map(\.path) == ["code/run.sh", "inputs/a.txt", "inputs/sub/b.txt"])
        #expect(verified.manifest.files[0].mode == 0o755)
        #expect(verified.manifest.files[1].mode == 0o644)
    }

    @Test func keyFilesRoundTripAndRefuseOverwrite() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let key = try KeyFiles.generate(prefix: tmp.path + "/alice")
        #expect(try FileIO.lstat(tmp.path + "/alice.key").st_mode & 0o777 == 0o600)
        #expect(try KeyFiles.loadPrivate(tmp.path + "/alice.key").publicKey == key.publicKey)
        #expect(try KeyFiles.loadPublic(tmp.path + "/alice.pub") == key.publicKey)
        #expect(key.publicKey.keyID.count == 16)
        expectWUError(.invalidKey, containing: "already exists") { try KeyFiles.generate(prefix: tmp.path + "/alice") }
        try tmp.file("bad.pub", "ssh-ed25519 AAAA")
        expectWUError(.invalidKey, containing: "not a wu public key") { _ = try KeyFiles.loadPublic(tmp.path + "/bad.pub") }
    }
}
