import CArchive
import Testing
@testable import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// `wu pack` refuses what a bundle may not carry, before writing anything.
@Suite struct PackRefusalTests {
    func pack(_ prepare: (TemporaryDirectory, String) throws -> Void) throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let job = try makeJob(in: tmp)
        try prepare(tmp, job)
        defer { #expect(access(tmp.path + "/out.wu", F_OK) != 0, "a bundle was written") }
        _ = try BundlePacker.pack(jobDirectory: job, key: .generate(name: "k"), output: tmp.path + "/out.wu")
    }

    @Test func symlinkPointingOutside() throws {
        expectWUError(.unsafeEntry, containing: "outside the job directory") {
            try pack { _, job in #expect(symlink("/etc/passwd", job + "/code/passwd") == 0) }
        }
    }

    @Test func symlinkInsideIsPackedAsTheFile() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let job = try makeJob(in: tmp)
        #expect(symlink("../inputs/a.txt", job + "/code/a-link") == 0)
        let key = SigningKey.generate(name: "k")
        let packed = try BundlePacker.pack(jobDirectory: job, key: key, output: tmp.path + "/out.wu")
        let link = try #require(packed.manifest.files.first { $0.path == "code/a-link" })
        #expect(link.sha256 == Digest.sha256(Array("alpha\n".utf8)))
        _ = try BundleReader.verify(.file(tmp.path + "/out.wu"), trusting: TrustStore(keys: [key.publicKey]))
    }

    @Test func fifo() throws {
        expectWUError(.unsafeEntry, containing: "FIFO") { try pack { _, job in #expect(mkfifo(job + "/inputs/pipe", 0o644) == 0) } }
    }

    @Test(.enabled(if: isRoot, "mknod needs CAP_MKNOD"))
    func deviceNode() throws {
        expectWUError(.unsafeEntry, containing: "device node") {
            try pack { _, job in #expect(mknod(job + "/code/null", S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0) }
        }
    }

    @Test func setuidFile() throws {
        expectWUError(.unsafeEntry, containing: "setuid") { try pack { _, job in #expect(chmod(job + "/code/run.sh", 0o4755) == 0) } }
    }

    @Test func unitReadingAMissingInput() throws {
        expectWUError(.invalidJobSpec, containing: "inputs/nope.txt") {
            try pack { tmp, _ in
                try tmp.file("job/wu.json", #"{"name": "t", "command": ["/bin/true"], "units": [{"id": "u", "inputs": ["inputs/nope.txt"]}]}"#)
            }
        }
    }

    @Test func splitMatchingNothing() throws {
        expectWUError(.invalidJobSpec, containing: "no file under inputs/ matches") {
            try pack { tmp, _ in try tmp.file("job/wu.json", #"{"name": "t", "command": ["/bin/true"], "units": {"split": "inputs/*.csv"}}"#) }
        }
    }
}
