import CArchive
import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// What a tar named as an image is: an `oci-archive` (an OCI layout, tarred) or a rootfs.
enum ArchiveKind {
    case ociArchive
    case rootfs(Manifest.Image.Compression)

    /// Looks at the compression and the entry names: `oci-layout` and `index.json` at the top make
    /// an oci-archive; a docker-save archive is refused with the command that converts it.
    static func classify(_ path: String) throws -> ArchiveKind {
        let compression = try sniffCompression(path)
        let reader = try TarFile(path)
        var names = Set<String>()
        var entries = 0
        while let entry = try reader.next() {
            entries += 1
            guard entries <= LayerUnpacker.Limits(maxBytes: 0).maxEntries else {
                throw WUError(.limitExceeded, "image: \(path) holds more than \(LayerUnpacker.Limits(maxBytes: 0).maxEntries) entries, more than a runner unpacks")
            }
            let name = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
            let top = name.hasPrefix("./") ? String(name.dropFirst(2)) : name
            if ["oci-layout", "index.json", "manifest.json", "repositories"].contains(top) { names.insert(top) }
        }
        if names.contains("oci-layout") && names.contains("index.json") { return .ociArchive }
        if names.contains("manifest.json") && names.contains("repositories") {
            throw WUError(
                .invalidJobSpec,
                "image: \(path) is a docker-save archive; convert it: skopeo copy docker-archive:\(path) oci-archive:image.tar"
            )
        }
        return .rootfs(compression)
    }

    /// gzip and zstd by their magic numbers; anything else is taken as an uncompressed tar.
    static func sniffCompression(_ path: String) throws -> Manifest.Image.Compression {
        let fd = try FileIO.open(path, O_RDONLY | O_NOFOLLOW)
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 4)
        let n = try magic.withUnsafeMutableBytes { try FileIO.read(fd, into: $0, path: path) }
        if n >= 2, magic[0] == 0x1f, magic[1] == 0x8b { return .gzip }
        if n >= 4, magic == [0x28, 0xb5, 0x2f, 0xfd] { return .zstd }
        return .none
    }

    /// Unpacks an oci-archive's layout files into `directory` (new): `oci-layout`, `index.json`
    /// and `blobs/sha256/HEX`, nothing else; links and special files are refused.
    static func extractLayout(_ path: String, into directory: String) throws {
        for sub in [directory, directory + "/blobs", directory + "/blobs/sha256"] where mkdir(sub, 0o700) != 0 {
            throw WUError(.io, "cannot create \(sub)", cause: SystemCallError("mkdir", path: sub, errno: errno))
        }
        let top = try FileIO.open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        defer { close(top) }
        let blobs = try FileIO.open(directory + "/blobs/sha256", O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        defer { close(blobs) }
        let reader = try TarFile(path)
        var total: Int64 = 0
        while let entry = try reader.next() {
            var name = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
            while name.hasPrefix("./") { name.removeFirst(2) }
            let type = mode_t(archive_entry_filetype(entry))
            if type == S_IFDIR { continue }
            guard type == S_IFREG, archive_entry_hardlink(entry) == nil else {
                throw WUError(.unsafeEntry, "image: \(name) in the oci-archive \(path) is not a regular file; an OCI layout holds files only")
            }
            let (parent, file): (Int32, String)
            if name == "oci-layout" || name == "index.json" {
                (parent, file) = (top, name)
            } else if name.hasPrefix("blobs/sha256/"), Digest.isSHA256(String(name.dropFirst("blobs/sha256/".count))) {
                (parent, file) = (blobs, String(name.dropFirst("blobs/sha256/".count)))
            } else {
                continue  // not part of the layout wu reads
            }
            let fd = openat(parent, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                let error = errno
                if error == EEXIST { throw WUError(.duplicateEntry, "image: \(name) appears twice in the oci-archive \(path)") }
                throw WUError(.io, "cannot write \(name) from \(path)", cause: SystemCallError("openat", errno: error))
            }
            defer { close(fd) }
            try reader.readData { chunk in
                total += Int64(chunk.count)
                guard total <= BundleLimits.default.maxTotalBytes else {
                    throw WUError(.limitExceeded, "image: \(path) holds more than \(ByteSize.format(BundleLimits.default.maxTotalBytes)), more than a bundle carries")
                }
                try FileIO.writeAll(fd, chunk, path: name)
            }
        }
    }
}

/// A tar file (plain, gzip or zstd) read entry by entry.
final class TarFile {
    private let archive: OpaquePointer
    private let path: String

    init(_ path: String) throws {
        guard let archive = archive_read_new() else { throw WUError(.io, "libarchive could not allocate a reader") }
        self.archive = archive
        self.path = path
        archive_read_support_filter_gzip(archive)
        archive_read_support_filter_zstd(archive)
        archive_read_support_format_tar(archive)
        guard archive_read_open_filename(archive, path, 1 << 20) == ARCHIVE_OK else { throw failed("opening it") }
    }

    deinit { archive_read_free(archive) }

    private func failed(_ what: String) -> WUError {
        let reason = archive_error_string(archive).map { String(cString: $0) } ?? "unexpected end of data"
        return WUError(.corruptArchive, "image: \(path) is not a readable tar, plain, gzip or zstd (\(what): \(reason))")
    }

    func next() throws -> OpaquePointer? { try ArchiveEntries.next(archive, failed: failed) }

    func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try ArchiveEntries.readData(archive, failed: failed, sparse: { WUError(.unsafeEntry, "image: \(path) holds a sparse entry") }, body)
    }
}
