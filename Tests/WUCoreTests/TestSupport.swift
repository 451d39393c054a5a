import CArchive
import FoundationEssentials
import Testing
@testable import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "wu-test") {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func remove() { FileIO.removeTree(path) }

    func file(_ relative: String, _ contents: String, mode: mode_t = 0o644) throws {
        try file(relative, Array(contents.utf8), mode: mode)
    }

    func file(_ relative: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let full = path + "/" + relative
        let parent = String(full[..<full.lastIndex(of: "/")!])
        try FileIO.makeDirectories(parent)
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw SystemCallError("open", path: full, errno: errno) }
        defer { close(fd) }
        try bytes.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: full) }
        fchmod(fd, mode)
    }

    func read(_ relative: String) throws -> [UInt8] { try FileIO.readFile(path + "/" + relative) }

    func exists(_ relative: String) -> Bool { access(path + "/" + relative, F_OK) == 0 }
}

/// The repository's root, found from this file's path.
let repositoryRoot: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path
}()

/// A small job directory: one unit reading one input.
func makeJob(in directory: TemporaryDirectory, spec: String? = nil) throws -> String {
    let job = directory.path + "/job"
    try directory.file(
        "job/wu.json",
        spec ?? #"{"name": "t", "command": ["/bin/sh", "run.sh"], "units": [{"id": "u1", "inputs": ["inputs/a.txt"]}]}"#
    )
    try directory.file("job/code/run.sh", "cat /in/a.txt > /out/a.txt\n", mode: 0o755)
    try directory.file("job/inputs/a.txt", "alpha\n")
    try directory.file("job/inputs/sub/b.txt", "beta\n")
    return job
}

/// One entry of a hand-made archive.
struct TarEntry {
    enum Kind { case file, directory, symlink(String), hardlink(String), characterDevice, fifo }
    var name: String
    var bytes: [UInt8] = []
    var kind: Kind = .file
    var mode: mode_t = 0o644
    /// The size written in the header, when it should lie.
    var declaredSize: Int64?
}

/// Writes a tar (zstd unless told otherwise) with libarchive, as an attacker could.
func writeTar(_ entries: [TarEntry], to path: String, zstd: Bool = true, level: Int = 3) throws {
    let archive = archive_write_new()!
    defer { archive_write_free(archive) }
    if zstd {
        archive_write_add_filter_zstd(archive)
        archive_write_set_filter_option(archive, "zstd", "compression-level", "\(level)")
    }
    archive_write_set_format_pax_restricted(archive)
    guard archive_write_open_filename(archive, path) == ARCHIVE_OK else { throw WUError(.io, "cannot write \(path)") }
    for item in entries {
        let entry = archive_entry_new()!
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, item.name)
        archive_entry_set_perm(entry, item.mode)
        switch item.kind {
        case .file:
            archive_entry_set_filetype(entry, 0o100000)
            archive_entry_set_size(entry, item.declaredSize ?? Int64(item.bytes.count))
        case .directory:
            archive_entry_set_filetype(entry, 0o040000)
        case .symlink(let target):
            archive_entry_set_filetype(entry, 0o120000)
            archive_entry_set_symlink(entry, target)
        case .hardlink(let target):
            archive_entry_set_filetype(entry, 0o100000)
            archive_entry_set_hardlink(entry, target)
            archive_entry_set_size(entry, 0)
        case .characterDevice:
            archive_entry_set_filetype(entry, 0o020000)
            archive_entry_set_rdev(entry, dev_t(1 << 8 | 1))
        case .fifo:
            archive_entry_set_filetype(entry, 0o010000)
        }
        guard archive_write_header(archive, entry) >= ARCHIVE_WARN else {
            throw WUError(.io, "header \(item.name): \(String(cString: archive_error_string(archive)))")
        }
        if !item.bytes.isEmpty {
            _ = item.bytes.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
        }
    }
    archive_write_close(archive)
}

/// A manifest + signature pair for hand-made archives.
func signedMetadata(files: [(String, [UInt8])], key: SigningKey, units: [Manifest.Unit]? = nil) throws -> [TarEntry] {
    let listed = files.map { Manifest.File(path: $0.0, sha256: Digest.sha256($0.1), size: Int64($0.1.count), mode: 0o644) }
    return try signedMetadata(listed: listed, key: key, units: units)
}

func signedMetadata(listed: [Manifest.File], key: SigningKey, units: [Manifest.Unit]? = nil) throws -> [TarEntry] {
    let manifest = Manifest(name: "crafted", version: "1", command: ["/bin/true"], units: units ?? [Manifest.Unit(id: "u")], files: listed)
    let bytes = try manifest.encoded()
    return [
        TarEntry(name: Manifest.entryName, bytes: bytes),
        TarEntry(name: BundleSignature.entryName, bytes: try BundleSignature.sign(bytes, with: key).encoded()),
    ]
}

/// Runs `body` and returns the `WUError` it throws; records an issue when it throws nothing or something else.
func expectWUError(_ code: WUError.Code, containing fragment: String? = nil, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(code) error, but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as WUError {
        #expect(error.code == code, "got \(error.code): \(error.message)", sourceLocation: sourceLocation)
        if let fragment {
            #expect(error.message.contains(fragment), "message '\(error.message)' lacks '\(fragment)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a WUError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Lists every path under a directory, relative, sorted.
func listTree(_ root: String) -> [String] {
    var result: [String] = []
    func walk(_ relative: String) {
        let full = relative.isEmpty ? root : root + "/" + relative
        guard let names = try? FileIO.listDirectory(full) else { return }
        for name in names {
            let child = relative.isEmpty ? name : relative + "/" + name
            result.append(child)
            var st = stat()
            if lstat(root + "/" + child, &st) == 0, st.st_mode & S_IFMT == S_IFDIR { walk(child) }
        }
    }
    walk("")
    return result
}

/// Whether the privileged tests run: as root, and always under `CI=true`, where a test that would
/// skip must fail instead (a broken install must never turn green): as another user it then runs
/// and fails on its first privileged step.
let isRoot = getuid() == 0 || getenv("CI").map { String(cString: $0) } == "true"
