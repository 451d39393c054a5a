import CArchive
import Testing
@testable import WUCore
#if canImport(Glibc)
import Glibc
#endif

@Suite struct OutputArchiveTests {
    @Test func sameContentSameDigestWhateverTheOrderModesAndTimes() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        try tmp.file("a/out/x.txt", "x\n")
        try tmp.file("a/out/dir/y.txt", "y\n", mode: 0o600)
        try tmp.file("a/out/run", "#!/bin/sh\n", mode: 0o700)
        // The same tree made in another order, with other modes and times.
        try tmp.file("b/out/run", "#!/bin/sh\n", mode: 0o755)
        try tmp.file("b/out/dir/y.txt", "y\n", mode: 0o644)
        try tmp.file("b/out/x.txt", "x\n", mode: 0o664)
        let touched = try shell("touch -d '1999-01-01' \(tmp.path)/b/out/x.txt \(tmp.path)/b/out/dir")
        #expect(touched.status == 0)

        let a = try OutputArchive.pack(directory: tmp.path + "/a/out")
        let b = try OutputArchive.pack(directory: tmp.path + "/b/out")
        #expect(a.outputDigest == b.outputDigest)
        #expect(a.files == 3 && a.fileBytes == 4 + 10)

        try tmp.file("b/out/x.txt", "X\n")
        #expect(try OutputArchive.pack(directory: tmp.path + "/b/out").outputDigest != a.outputDigest)
    }

    /// hostile-units.md item 9: links in /out are never followed when the runner collects it.
    @Test func linksAndSpecialFilesAreLeftOutNotFollowed() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        try tmp.file("secret", "host secret\n")
        try tmp.file("out/real.txt", "ok\n")
        #expect(symlink(tmp.path + "/secret", tmp.path + "/out/stolen") == 0)
        #expect(symlink("/etc", tmp.path + "/out/etc") == 0)
        #expect(mkfifo(tmp.path + "/out/pipe", 0o644) == 0)
        let summary = try OutputArchive.pack(directory: tmp.path + "/out", compressedPath: tmp.path + "/out.zst")
        #expect(summary.skipped.sorted() == ["etc", "pipe", "stolen"])
        #expect(summary.files == 1)

        try OutputArchive.extract(compressed: tmp.path + "/out.zst", expectedOutputDigest: summary.outputDigest, to: tmp.path + "/back")
        #expect(listTree(tmp.path + "/back") == ["real.txt"])
    }

    @Test func outDirectoryItselfASymlinkIsRefused() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        #expect(symlink("/etc", tmp.path + "/out") == 0)
        expectWUError(.io, containing: "cannot open the output directory") { _ = try OutputArchive.pack(directory: tmp.path + "/out") }
    }

    @Test func compressedRoundTripAndDigestCheck() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        try tmp.file("out/counts.tsv", String(repeating: "word\t1\n", count: 5000))
        try tmp.file("out/sub/deeper/x", [0, 1, 2, 255])
        let summary = try OutputArchive.pack(directory: tmp.path + "/out", compressedPath: tmp.path + "/blob")
        #expect(summary.blobDigest == (try OutputArchive.sha256(ofFile: tmp.path + "/blob")))
        #expect(try FileIO.lstat(tmp.path + "/blob").st_size < 5000)

        try OutputArchive.extract(compressed: tmp.path + "/blob", expectedOutputDigest: summary.outputDigest, to: tmp.path + "/back")
        #expect(try tmp.read("back/counts.tsv") == tmp.read("out/counts.tsv"))
        #expect(try tmp.read("back/sub/deeper/x") == [0, 1, 2, 255])

        let wrong = String(repeating: "0", count: 64)
        expectWUError(.tamperedFile, containing: "expected \(wrong)") {
            try OutputArchive.extract(compressed: tmp.path + "/blob", expectedOutputDigest: wrong, to: tmp.path + "/again")
        }
        #expect(access(tmp.path + "/again", F_OK) != 0)
    }

    @Test func hostileOutputTarIsRefused() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        try writeTar([TarEntry(name: "ok.txt", bytes: [1]), TarEntry(name: "../escape", bytes: [1])], to: tmp.path + "/evil.tar", zstd: false)
        let digest = try OutputArchive.sha256(ofFile: tmp.path + "/evil.tar")
        _ = try OutputArchive.compress(tmp.path + "/evil.tar", to: tmp.path + "/evil.zst")
        try FileIO.makeDirectories(tmp.path + "/box")
        expectWUError(.unsafeEntry, containing: "../escape") {
            try OutputArchive.extract(compressed: tmp.path + "/evil.zst", expectedOutputDigest: digest, to: tmp.path + "/box/dest")
        }
        #expect(access(tmp.path + "/box/escape", F_OK) != 0)
        #expect(access(tmp.path + "/box/dest", F_OK) != 0)
    }
}
