import CArchive
import Testing
@testable import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// The `wu` binary `swift test` built beside the test bundle.
let wuBinary: String = {
    // The runner is `<build dir>/<package>PackageTests.xctest` (a file on Linux, or a bundle directory).
    let components = CommandLine.arguments[0].split(separator: "/", omittingEmptySubsequences: false)
    let bundleIndex = components.lastIndex { $0.hasSuffix(".xctest") } ?? components.count - 1
    return components[..<bundleIndex].joined(separator: "/") + "/wu"
}()

/// Runs a shell command line; returns its exit status and what it printed.
func shell(_ script: String) throws -> (status: Int32, output: String) {
    let tmp = TemporaryDirectory("wu-sh")
    defer { tmp.remove() }
    var pid: pid_t = 0
    let argv = ["/bin/sh", "-c", "(\(script)) >\(tmp.path)/out 2>&1"]
    var cArgs = argv.map { strdup($0) } + [nil]
    defer { cArgs.forEach { free($0) } }
    guard posix_spawn(&pid, "/bin/sh", nil, nil, &cArgs, environ) == 0 else { throw SystemCallError("posix_spawn", errno: errno) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let output = String(decoding: (try? tmp.read("out")) ?? [], as: UTF8.self)
    return ((status >> 8) & 0xff, output)
}

/// The entries of an archive, read back with libarchive (data included).
func readEntries(_ path: String) throws -> [TarEntry] {
    let archive = archive_read_new()!
    defer { archive_read_free(archive) }
    archive_read_support_filter_all(archive)
    archive_read_support_format_tar(archive)
    guard archive_read_open_filename(archive, path, 65536) == ARCHIVE_OK else { throw WUError(.io, "open \(path)") }
    var result: [TarEntry] = []
    var entry: OpaquePointer?
    while archive_read_next_header(archive, &entry) == ARCHIVE_OK {
        var bytes = [UInt8](repeating: 0, count: Int(archive_entry_size(entry)))
        if !bytes.isEmpty {
            _ = bytes.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress, $0.count) }
        }
        result.append(TarEntry(name: String(cString: archive_entry_pathname(entry)), bytes: bytes, mode: archive_entry_perm(entry)))
    }
    return result
}
