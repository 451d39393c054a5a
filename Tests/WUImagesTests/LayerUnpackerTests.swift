import CArchive
import Testing
import WUCore
@testable import WUImages
#if canImport(Glibc)
import Glibc
#endif

/// The unpacker: OCI's whiteouts, and the hostile layers a requester could sign. Each hostile test
/// checks the error and that nothing landed (the destination is gone, the outside untouched).
@Suite struct LayerUnpackerTests {
    let limits = LayerUnpacker.Limits(maxBytes: 256 << 20)

    /// Writes the layers' blobs under `tmp` and unpacks them into `tmp/root`.
    @discardableResult
    func unpack(_ layers: [LayerBytes], in tmp: Scratch, limits: LayerUnpacker.Limits? = nil, describe: (Int, inout Manifest.Image.Layer) -> Void = { _, _ in })
        throws -> LayerUnpacker.Report
    {
        var blobs: [LayerUnpacker.Blob] = []
        for (index, bytes) in layers.enumerated() {
            let path = tmp.path + "/layer-\(index)"
            try write(path, bytes.blob)
            var described = bytes.layer
            describe(index, &described)
            blobs.append(.init(path: path, layer: described))
        }
        return try LayerUnpacker.unpack(blobs, into: tmp.path + "/root", limits: limits ?? self.limits)
    }

    func mode(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode : 0
    }

    @Test func busyboxUnpacksAndRunsFromItsRoot() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let report = try unpack([try layer(try busyboxEntries(), .gzip)], in: tmp)
        #expect(report.entries == 5 && report.skipped.isEmpty)
        #expect(listTree(tmp.path + "/root") == ["bin", "bin/busybox", "bin/sh", "etc", "etc/marker"])
        #expect(mode(tmp.path + "/root/bin/busybox") & 0o7777 == 0o755)
        var link = [CChar](repeating: 0, count: 64)
        #expect(readlink(tmp.path + "/root/bin/sh", &link, 63) == 7)
        let output = try run(tmp.path + "/root/bin/sh", ["-c", "cat " + tmp.path + "/root/etc/marker"])
        #expect(output == "from the image\n")
    }

    /// Layer 2 removes `etc/a` (`.wh.a`), makes `opt/x` opaque (its marker after one of its new
    /// files, as tar order allows) and keeps a whiteout of a file it made itself from acting.
    @Test func whiteoutsAndOpaqueDirectoriesHideLowerLayers() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let lower = try layer([
            .text("etc/a", "a"), .text("etc/b", "b"), .text("opt/x/1", "1"), .text("opt/x/sub/2", "2"), .text("keep/k", "k"), .text("gone/g", "g"),
        ])
        let upper = try layer(
            [
                .text("etc/.wh.a", ""), .directory("opt/x"), .text("opt/x/3", "3"), .text("opt/x/.wh..wh..opq", ""), .text("opt/x/4", "4"),
                .text(".wh.gone", ""), .text("new", "n"), .text(".wh.new", ""), .text("etc/.wh..wh.plnk", ""),
            ],
            .zstd
        )
        try unpack([lower, upper], in: tmp)
        #expect(listTree(tmp.path + "/root") == ["etc", "etc/b", "keep", "keep/k", "new", "opt", "opt/x", "opt/x/3", "opt/x/4"])
    }

    @Test func aLaterLayerReplacesADirectoryWithAFileAndBack() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let first = try layer([.text("d/inner", "i"), .text("f", "f")])
        let second = try layer([.text("d", "now a file"), .directory("f", mode: 0o555), .text("f/child", "c")])
        try unpack([first, second], in: tmp)
        #expect(listTree(tmp.path + "/root") == ["d", "f", "f/child"])
        #expect(mode(tmp.path + "/root/f") & 0o7777 == 0o555)
    }

    @Test func dotDotIsRefused() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        expectWUError(.unsafeEntry, containing: "contains '..'") {
            try unpack([try layer([.text("a/../../escaped", "x")])], in: tmp)
        }
        #expect(access(tmp.path + "/escaped", F_OK) != 0 && access(tmp.path + "/root", F_OK) != 0)
        expectWUError(.unsafeEntry, containing: "absolute path") {
            try unpack([try layer([.text("/abs", "x")])], in: tmp)
        }
    }

    /// A symlink to an absolute directory, then a file written "through" it; and the same with a
    /// link made by a lower layer.
    @Test func writingThroughASymlinkIsRefused() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        try FileIO.makeDirectories(tmp.path + "/outside")
        expectWUError(.unsafeEntry, containing: "goes through evil, which is a symbolic link") {
            try unpack([try layer([.symlink("evil", to: tmp.path + "/outside"), .text("evil/pwned", "x")])], in: tmp)
        }
        expectWUError(.unsafeEntry, containing: "symbolic link") {
            try unpack([try layer([.symlink("up", to: "../../..")]), try layer([.text("up/tmp/pwned", "x")])], in: tmp)
        }
        #expect(listTree(tmp.path + "/outside").isEmpty && access(tmp.path + "/root", F_OK) != 0)
    }

    @Test func hardLinksOutOfTheRootAreRefused() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        try write(tmp.path + "/secret", Array("secret".utf8))
        expectWUError(.unsafeEntry, containing: "contains '..'") {
            try unpack([try layer([.hardlink("h", to: "../secret")])], in: tmp)
        }
        expectWUError(.unsafeEntry, containing: "absolute path") {
            try unpack([try layer([.hardlink("h", to: tmp.path + "/secret")])], in: tmp)
        }
        expectWUError(.unsafeEntry, containing: "symbolic link") {
            try unpack([try layer([.symlink("s", to: tmp.path), .hardlink("h", to: "s/secret")])], in: tmp)
        }
        expectWUError(.unsafeEntry, containing: "not a regular file") {
            try unpack([try layer([.symlink("s", to: tmp.path + "/secret"), .hardlink("h", to: "s")])], in: tmp)
        }
        var st = stat()
        #expect(stat(tmp.path + "/secret", &st) == 0 && st.st_nlink == 1)
        // Inside the root, to a file of a lower layer: kept.
        try unpack([try layer([.text("a", "shared")]), try layer([.hardlink("b", to: "a")])], in: tmp)
        #expect(stat(tmp.path + "/root/b", &st) == 0 && st.st_nlink == 2)
    }

    @Test func deviceNodesFIFOsAreSkippedAndSetuidBitsStripped() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let report = try unpack(
            [try layer([.characterDevice("dev/null"), .fifo("run/pipe"), .text("bin/su", "#!", mode: 0o4755), .text("bin/wall", "#!", mode: 0o2755), .directory("tmp", mode: 0o1777)])],
            in: tmp
        )
        #expect(report.skipped == ["layer 0: dev/null (device node)", "layer 0: run/pipe (FIFO)"])
        #expect(access(tmp.path + "/root/dev/null", F_OK) != 0 && access(tmp.path + "/root/run/pipe", F_OK) != 0)
        #expect(mode(tmp.path + "/root/bin/su") & 0o7777 == 0o755)
        #expect(mode(tmp.path + "/root/bin/wall") & 0o7777 == 0o755)
        #expect(mode(tmp.path + "/root/tmp") & 0o7777 == 0o1777)
    }

    @Test func aDecompressionBombIsRefused() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let bomb = try layer([.file("zeros", [UInt8](repeating: 0, count: 64 << 20))], .gzip)
        #expect(bomb.blob.count < 1 << 20)
        expectWUError(.limitExceeded, containing: "decompression bomb") { try unpack([bomb], in: tmp) }
        #expect(access(tmp.path + "/root", F_OK) != 0)
        expectWUError(.limitExceeded, containing: "unpacks to more than") {
            try unpack([try layer([.file("big", [UInt8](repeating: 7, count: 2 << 20))], .none)], in: tmp, limits: .init(maxBytes: 1 << 20))
        }
    }

    @Test func aLayerThatIsNotWhatTheManifestSaysIsRefusedAndRemoved() throws {
        let tmp = Scratch()
        defer { tmp.remove() }
        let real = try layer([.text("a", "a")], .gzip)
        let other = try layer([.text("b", "b")], .gzip)
        expectWUError(.tamperedFile, containing: "has digest \(real.digest) but its descriptor says \(other.digest)") {
            try unpack([real], in: tmp) { _, layer in layer.digest = other.digest }
        }
        #expect(access(tmp.path + "/root", F_OK) != 0)
        expectWUError(.tamperedFile, containing: "but the image's diff_id is \(other.diffID)") {
            try unpack([real], in: tmp) { _, layer in layer.diffID = other.diffID }
        }
        expectWUError(.corruptArchive, containing: "not compressed as its media type says (zstd)") {
            try unpack([real], in: tmp) { _, layer in layer.mediaType = "application/vnd.oci.image.layer.v1.tar+zstd" }
        }
    }

    /// 200,000 empty files: refused by the entry bound (150,000) before they are all made. On a
    /// tmpfs when there is one: 150,000 inodes made and removed on a busy disk take a minute and more.
    @Test func aLayerOf200000FilesIsRefused() throws {
        let tmp = Scratch(base: access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
        defer { tmp.remove() }
        let plain = try tar(count: 200_000) { .file("f/\($0)", []) }
        let many = LayerBytes(tar: plain, blob: try compress(plain, .zstd), compression: .zstd)
        expectWUError(.limitExceeded, containing: "more than 150000 entries") { try unpack([many], in: tmp) }
        #expect(access(tmp.path + "/root", F_OK) != 0)
    }
}

/// Runs a program and returns its standard output.
func run(_ program: String, _ arguments: [String]) throws -> String {
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { throw WUError(.io, "pipe") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    let argv = ([program] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, program, &actions, nil, argv, environ)
    posix_spawn_file_actions_destroy(&actions)
    close(pipeEnds[1])
    guard status == 0 else {
        close(pipeEnds[0])
        throw WUError(.io, "cannot run \(program)", cause: SystemCallError("posix_spawn", errno: status))
    }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(pipeEnds[0], &buffer, buffer.count)
        if n <= 0 { break }
        output += buffer[0..<n]
    }
    close(pipeEnds[0])
    var exit: Int32 = 0
    waitpid(pid, &exit, 0)
    return String(decoding: output, as: UTF8.self)
}
