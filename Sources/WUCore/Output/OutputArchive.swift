import CArchive
import Crypto
#if canImport(Glibc)
import Glibc
#endif

/// A unit's `/out` as a canonical tar: what honest replicas on any machine agree on byte for byte.
///
/// The tar holds regular files and directories only, sorted by path (byte order), owners and times
/// zeroed, modes 755 for directories and executables and 644 for other files. Symbolic links, devices,
/// FIFOs and sockets are left out: nothing is ever followed out of `/out` (hostile-units.md item 9).
/// The **output digest** is the SHA-256 of this uncompressed tar; the zstd-compressed copy is only for
/// transfer and storage, addressed by its own SHA-256 (the blob digest).
public enum OutputArchive {
    public struct Summary: Sendable, Equatable {
        /// SHA-256 of the canonical uncompressed tar.
        public var outputDigest: String
        /// SHA-256 of the compressed file, when one was written.
        public var blobDigest: String?
        /// Bytes of regular files in the output.
        public var fileBytes: Int64
        public var files: Int
        /// Paths left out because they were links or special files.
        public var skipped: [String]
    }

    /// The fixed bounds every runner applies alike (DESIGN.md), so honest replicas agree on what is refused.
    public struct Limits: Sendable {
        /// The unit's `disk`. Packing counts the canonical tar's bytes against it (headers, padding
        /// and pax records included, not the 1 KiB end marker); extracting counts the files' bytes.
        public var maxFileBytes: Int64
        public var maxEntries: Int
        /// Directories deep: `a/b/c` is 3.
        public var maxDepth: Int
        /// Bytes of an entry's path in the tar.
        public var maxPathBytes: Int

        public init(maxFileBytes: Int64 = 64 << 30, maxEntries: Int = 100_000, maxDepth: Int = 64, maxPathBytes: Int = 4096) {
            self.maxFileBytes = maxFileBytes
            self.maxEntries = maxEntries
            self.maxDepth = maxDepth
            self.maxPathBytes = maxPathBytes
        }
    }

    /// Makes the canonical tar of `directory` and its digest; with `compressedPath`, also the zstd
    /// copy to upload.
    ///
    /// The tree is read and written in one pass, in the tar's order, relative to directory
    /// descriptors; the runner holds the current path and the names of the directories on the
    /// way down, so its memory does not grow with the tree's depth or its paths' lengths, and a
    /// tree past a bound is refused as soon as the walk meets it.
    /// - Throws: `limitExceeded` past the limits (the message says which); `io` when the
    ///   directory cannot be read.
    public static func pack(directory: String, compressedPath: String? = nil, limits: Limits = Limits()) throws -> Summary {
        let root = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard root >= 0 else { throw WUError(.io, "cannot open the output directory \(directory)", cause: SystemCallError("open", path: directory, errno: errno)) }
        defer { close(root) }
        let temporaryTar = (compressedPath ?? "/tmp/wu-output-\(getpid())") + ".tar-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(temporaryTar) }
        let writer = try TarWriter(path: temporaryTar, maxBytes: limits.maxFileBytes)
        var packer = Packer(writer: writer, limits: limits)
        try packer.pack(root)
        let digest = try writer.finish()
        var blobDigest: String?
        if let compressedPath {
            blobDigest = try compress(temporaryTar, to: compressedPath)
        }
        return Summary(outputDigest: digest, blobDigest: blobDigest, fileBytes: packer.fileBytes, files: packer.files, skipped: packer.skipped)
    }

    /// Compresses a file with zstd (as a raw stream) and returns the SHA-256 of the compressed bytes.
    static func compress(_ source: String, to destination: String) throws -> String {
        guard let archive = archive_write_new() else { throw WUError(.io, "libarchive could not allocate a writer") }
        defer { archive_write_free(archive) }
        archive_write_add_filter_zstd(archive)
        archive_write_set_filter_option(archive, "zstd", "compression-level", "3")
        archive_write_set_format_raw(archive)
        archive_write_set_bytes_in_last_block(archive, 1)
        guard archive_write_open_filename(archive, destination) == ARCHIVE_OK else {
            throw WUError(.io, "cannot write \(destination): \(archive_error_string(archive).map { String(cString: $0) } ?? "")")
        }
        let entry = archive_entry_new()
        defer { archive_entry_free(entry) }
        archive_entry_set_filetype(entry, 0o100000)
        archive_write_header(archive, entry)
        let fd = try FileIO.open(source, O_RDONLY)
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try FileIO.read(fd, into: buffer, path: source)
            if n == 0 { break }
            guard archive_write_data(archive, buffer.baseAddress, n) == n else {
                throw WUError(.io, "cannot compress into \(destination): \(archive_error_string(archive).map { String(cString: $0) } ?? "")")
            }
        }
        guard archive_write_close(archive) == ARCHIVE_OK else { throw WUError(.io, "cannot finish \(destination)") }
        return try sha256(ofFile: destination)
    }

    /// SHA-256 of a file's bytes, in hex.
    public static func sha256(ofFile path: String) throws -> String {
        try BundlePacker.hashFile(path).0
    }
}
