import CArchive
import Testing
import WUCore
@testable import WUImages
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp (or `base`), removed by `remove()`.
struct Scratch {
    let path: String

    init(_ label: String = "wu-image-test", base: String = "/tmp") {
        var template = Array("\(base)/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func remove() { DirectoryTree.remove(path) }

    func write(_ relative: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let full = path + "/" + relative
        try FileIO.makeDirectories(String(full[..<full.lastIndex(of: "/")!]))
        let fd = try FileIO.open(full, O_WRONLY | O_CREAT | O_TRUNC, mode: UInt32(mode))
        defer { close(fd) }
        try bytes.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: full) }
        fchmod(fd, mode)
    }
}

/// One entry of a layer as a test (or an attacker) writes it.
enum LayerEntry {
    case file(String, [UInt8], mode: mode_t = 0o644)
    case directory(String, mode: mode_t = 0o755)
    case symlink(String, to: String)
    case hardlink(String, to: String)
    case characterDevice(String)
    case fifo(String)

    static func text(_ name: String, _ text: String, mode: mode_t = 0o644) -> LayerEntry { .file(name, Array(text.utf8), mode: mode) }
}

/// A layer's bytes: the uncompressed tar and the blob as shipped.
struct LayerBytes {
    var tar: [UInt8]
    var blob: [UInt8]
    var compression: Manifest.Image.Compression

    var diffID: String { "sha256:" + Digest.sha256(tar) }
    var digest: String { "sha256:" + Digest.sha256(blob) }
    var mediaType: String { "application/vnd.oci.image.layer.v1.tar" + (compression == .none ? "" : "+" + compression.rawValue) }
    var layer: Manifest.Image.Layer { .init(digest: digest, size: Int64(blob.count), mediaType: mediaType, diffID: diffID) }
}

/// Writes through libarchive into memory, with a growing buffer.
private final class MemorySink {
    var bytes: [UInt8] = []
}

private let memoryWrite: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> la_ssize_t = { _, client, buffer, length in
    let sink = Unmanaged<MemorySink>.fromOpaque(client!).takeUnretainedValue()
    sink.bytes += UnsafeRawBufferPointer(start: buffer, count: length)
    return la_ssize_t(length)
}

/// Runs a libarchive writer set up by `configure` and fed by `feed`, returning what it wrote.
private func writeArchive(_ configure: (OpaquePointer) -> Void, _ feed: (OpaquePointer) throws -> Void) throws -> [UInt8] {
    let archive = archive_write_new()!
    defer { archive_write_free(archive) }
    configure(archive)
    let sink = MemorySink()
    let opened = archive_write_open2(archive, Unmanaged.passUnretained(sink).toOpaque(), nil, memoryWrite, nil, nil)
    guard opened == ARCHIVE_OK else { throw WUError(.io, "cannot open a writer: \(String(cString: archive_error_string(archive)))") }
    try feed(archive)
    archive_write_close(archive)
    return sink.bytes
}

/// A tar of `entries`, uncompressed.
func tar(_ entries: [LayerEntry]) throws -> [UInt8] {
    try tar(count: entries.count) { entries[$0] }
}

/// A tar of `count` entries made one at a time (a 200,000-entry layer never sits in an array).
func tar(count: Int, _ entryAt: (Int) -> LayerEntry) throws -> [UInt8] {
    try writeArchive({ archive in
        archive_write_set_format_pax_restricted(archive)
        archive_write_set_bytes_in_last_block(archive, 1)
    }) { archive in
        let entry = archive_entry_new()!
        defer { archive_entry_free(entry) }
        for index in 0..<count {
            archive_entry_clear(entry)
            var data: [UInt8] = []
            switch entryAt(index) {
            case .file(let name, let bytes, let mode):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o100000)
                archive_entry_set_perm(entry, mode)
                archive_entry_set_size(entry, Int64(bytes.count))
                archive_entry_set_mtime(entry, 1_700_000_000, 0)
                data = bytes
            case .directory(let name, let mode):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o040000)
                archive_entry_set_perm(entry, mode)
            case .symlink(let name, let target):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o120000)
                archive_entry_set_perm(entry, 0o777)
                archive_entry_set_symlink(entry, target)
            case .hardlink(let name, let target):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o100000)
                archive_entry_set_perm(entry, 0o644)
                archive_entry_set_hardlink(entry, target)
                archive_entry_set_size(entry, 0)
            case .characterDevice(let name):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o020000)
                archive_entry_set_perm(entry, 0o666)
                archive_entry_set_rdev(entry, dev_t(1 << 8 | 3))
            case .fifo(let name):
                archive_entry_set_pathname(entry, name)
                archive_entry_set_filetype(entry, 0o010000)
                archive_entry_set_perm(entry, 0o644)
            }
            guard archive_write_header(archive, entry) >= ARCHIVE_WARN else {
                throw WUError(.io, "header: \(String(cString: archive_error_string(archive)))")
            }
            if !data.isEmpty { _ = data.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) } }
        }
    }
}

/// `bytes` compressed as one stream (libarchive's raw format), or as they are.
func compress(_ bytes: [UInt8], _ compression: Manifest.Image.Compression) throws -> [UInt8] {
    guard compression != .none else { return bytes }
    return try writeArchive({ archive in
        archive_write_set_format_raw(archive)
        if compression == .gzip { archive_write_add_filter_gzip(archive) } else { archive_write_add_filter_zstd(archive) }
        archive_write_set_bytes_in_last_block(archive, 1)
    }) { archive in
        let entry = archive_entry_new()!
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, "data")
        archive_entry_set_filetype(entry, 0o100000)
        archive_entry_set_size(entry, Int64(bytes.count))
        archive_write_header(archive, entry)
        _ = bytes.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
    }
}

func layer(_ entries: [LayerEntry], _ compression: Manifest.Image.Compression = .gzip) throws -> LayerBytes {
    let plain = try tar(entries)
    return LayerBytes(tar: plain, blob: try compress(plain, compression), compression: compression)
}

/// A root with the static busybox (`busybox-static`), `sh` linked to it, and a marker file.
func busyboxEntries(marker: String = "from the image\n") throws -> [LayerEntry] {
    let busybox = try FileIO.readFile("/bin/busybox", limit: 16 << 20)
    return [
        .directory("bin"), .file("bin/busybox", busybox, mode: 0o755), .symlink("bin/sh", to: "busybox"),
        .directory("etc"), .text("etc/marker", marker),
    ]
}

/// This machine's architecture as OCI names it.
let hostArchitecture = Platform.ociByMachine[Platform.hostMachine]!.architecture

/// One image in a layout: its layers, its config's architecture, and what the index says of it.
struct ImageSpec {
    var layers: [LayerBytes]
    var architecture = hostArchitecture
    var platformInIndex = false
    /// Replaces the config's diff_ids (to make them lie).
    var diffIDs: [String]?
    /// Docker v2's media types (`docker save` through skopeo keeps them) instead of OCI's.
    var docker = false
}

/// Writes an OCI image layout at `directory` holding `images` (one index entry each).
@discardableResult
func writeLayout(_ directory: String, _ images: [ImageSpec]) throws -> [String] {
    func put(_ bytes: [UInt8]) throws -> String {
        let hex = Digest.sha256(bytes)
        let path = directory + "/blobs/sha256/" + hex
        if access(path, F_OK) != 0 {
            try FileIO.makeDirectories(directory + "/blobs/sha256")
            let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            defer { close(fd) }
            try bytes.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
        }
        return "sha256:" + hex
    }
    func strings(_ list: [String]) -> String { "[" + list.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
    var descriptors: [String] = []
    var manifestDigests: [String] = []
    for image in images {
        var layerDescriptors: [String] = []
        for layer in image.layers {
            let mediaType = image.docker ? "application/vnd.docker.image.rootfs.diff.tar" + (layer.compression == .gzip ? ".gzip" : "") : layer.mediaType
            layerDescriptors.append(#"{"mediaType":"\#(mediaType)","digest":"\#(try put(layer.blob))","size":\#(layer.blob.count)}"#)
        }
        let config = Array(
            #"{"architecture":"\#(image.architecture)","os":"linux","config":{"Entrypoint":["/bin/sh"],"Env":["PATH=/bin"],"WorkingDir":"/srv","User":"1000"},"rootfs":{"type":"layers","diff_ids":\#(strings(image.diffIDs ?? image.layers.map(\.diffID)))}}"#.utf8
        )
        let configType = image.docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json"
        let manifestType = image.docker ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json"
        let configDescriptor = #"{"mediaType":"\#(configType)","digest":"\#(try put(config))","size":\#(config.count)}"#
        let manifest = Array(
            #"{"schemaVersion":2,"mediaType":"\#(manifestType)","config":\#(configDescriptor),"layers":[\#(layerDescriptors.joined(separator: ","))]}"#.utf8
        )
        let digest = try put(manifest)
        manifestDigests.append(digest)
        let platform = image.platformInIndex ? #","platform":{"architecture":"\#(image.architecture)","os":"linux"}"# : ""
        descriptors.append(#"{"mediaType":"\#(manifestType)","digest":"\#(digest)","size":\#(manifest.count)\#(platform)}"#)
    }
    try write(directory + "/oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    try write(directory + "/index.json", Array(#"{"schemaVersion":2,"manifests":[\#(descriptors.joined(separator: ","))]}"#.utf8))
    return manifestDigests
}

func write(_ path: String, _ bytes: [UInt8]) throws {
    let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
    defer { close(fd) }
    try bytes.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
}

/// Tars a layout directory as `podman save --format oci-archive` does: the layout's files at the top.
func ociArchive(of layout: String, to path: String) throws {
    var entries: [LayerEntry] = [.text("oci-layout", #"{"imageLayoutVersion":"1.0.0"}"#), .file("index.json", try FileIO.readFile(layout + "/index.json"))]
    entries.append(.directory("blobs"))
    entries.append(.directory("blobs/sha256"))
    for name in try FileIO.listDirectory(layout + "/blobs/sha256") {
        entries.append(.file("blobs/sha256/" + name, try FileIO.readFile(layout + "/blobs/sha256/" + name, limit: 64 << 20)))
    }
    try write(path, try tar(entries))
}

/// Runs `body` and checks it throws a `WUError` with `code` (and `fragment` in its message).
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

/// Lists every path under a directory, relative, sorted, without following links.
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
