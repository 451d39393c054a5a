import Testing
@testable import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// Makes `depth` directories named `name`, each inside the last, under `root`, relative to
/// descriptors (their paths pass PATH_MAX); returns a descriptor of the deepest (close it).
func makeNestedDirectories(under root: String, depth: Int, name: String) -> Int32 {
    var fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    for _ in 0..<depth {
        mkdirat(fd, name, 0o755)
        let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        close(fd)
        fd = child
    }
    return fd
}

/// Creates the file `path` (relative, of any length) and its directories under `root`, relative to descriptors.
func makeFile(under root: String, _ path: String, _ contents: String = "x") {
    var fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    let parts = path.split(separator: "/").map(String.init)
    for part in parts.dropLast() {
        mkdirat(fd, part, 0o755)
        let child = openat(fd, part, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        close(fd)
        fd = child
    }
    let file = openat(fd, parts.last!, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    _ = write(file, contents, contents.utf8.count)
    close(file)
    close(fd)
}

@Suite struct DirectoryTreeTests {
    /// What a unit can leave: 300 directories of 200-byte names (60 KB of path, far past PATH_MAX) with files in them.
    @Test func aTreeDeeperThanPathMaxIsMeasuredAndRemoved() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        #expect(mkdir(tmp.path + "/out", 0o755) == 0)
        let deepest = makeNestedDirectories(under: tmp.path + "/out", depth: 300, name: String(repeating: "d", count: 200))
        #expect(deepest >= 0)
        let file = openat(deepest, "big", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        #expect(ftruncate(file, 0) == 0)
        let block = [UInt8](repeating: 7, count: 1 << 20)
        for _ in 0..<4 { #expect(block.withUnsafeBytes { write(file, $0.baseAddress, $0.count) } == 1 << 20) }
        close(file)
        close(deepest)

        let usage = DirectoryTree.usage(of: tmp.path + "/out")
        #expect(usage.fileBytes == 4 << 20)
        #expect(usage.allocated >= (4 << 20) + 300 * 4096)
        // Stopping early: a walk past the bound says so without visiting the rest.
        #expect(DirectoryTree.usage(of: tmp.path + "/out", stopAbove: 100_000).allocated > 100_000)

        FileIO.removeTree(tmp.path + "/out")
        #expect(access(tmp.path + "/out", F_OK) != 0, "the deep tree is still there")
    }

    @Test func removalNeverFollowsALink() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        try tmp.file("keep/precious", "x")
        try tmp.file("tree/a/file", "y")
        #expect(symlink(tmp.path + "/keep", tmp.path + "/tree/a/link") == 0)
        FileIO.removeTree(tmp.path + "/tree")
        #expect(!tmp.exists("tree"))
        #expect(tmp.exists("keep/precious"))
    }

    @Test func aNameThatIsNotUTF8IsCountedAndRemoved() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        try tmp.file("tree/x", "")
        let dir = open(tmp.path + "/tree", O_RDONLY | O_DIRECTORY)
        defer { close(dir) }
        let name: [CChar] = [0x66, -1, -2, 0]  // "f\xff\xfe"
        let fd = openat(dir, name, O_WRONLY | O_CREAT, 0o644)
        #expect(fd >= 0)
        #expect(write(fd, "abc", 3) == 3)
        close(fd)
        #expect(DirectoryTree.usage(of: tmp.path + "/tree").fileBytes == 3)
        FileIO.removeTree(tmp.path + "/tree")
        #expect(!tmp.exists("tree"))
    }
}
