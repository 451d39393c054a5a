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

    public struct Limits: Sendable {
        public var maxFileBytes: Int64
        public var maxEntries: Int

        public init(maxFileBytes: Int64 = 64 << 30, maxEntries: Int = 100_000) {
            self.maxFileBytes = maxFileBytes
            self.maxEntries = maxEntries
        }
    }

    /// Makes the canonical tar of `directory` and its digest; with `compressedPath`, also the zstd
    /// copy to upload.
    ///
    /// - Throws: `limitExceeded` past the limits; `io` when the directory cannot be read.
    public static func pack(directory: String, compressedPath: String? = nil, limits: Limits = Limits()) throws -> Summary {
        let root = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard root >= 0 else { throw WUError(.io, "cannot open the output directory \(directory)", cause: SystemCallError("open", path: directory, errno: errno)) }
        defer { close(root) }
        var entries: [Entry] = []
        var skipped: [String] = []
        try walk(root, prefix: "", into: &entries, skipped: &skipped, limits: limits)
        entries.sort { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
        let fileBytes = entries.reduce(Int64(0)) { $0 + $1.size }
        guard fileBytes <= limits.maxFileBytes else {
            throw WUError(.limitExceeded, "the output holds \(ByteSize.format(fileBytes)), more than \(ByteSize.format(limits.maxFileBytes))")
        }

        let temporaryTar = (compressedPath ?? "/tmp/wu-output-\(getpid())") + ".tar-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(temporaryTar) }
        let digest = try writeTar(entries, root: root, to: temporaryTar)
        var blobDigest: String?
        if let compressedPath {
            blobDigest = try compress(temporaryTar, to: compressedPath)
        }
        return Summary(outputDigest: digest, blobDigest: blobDigest, fileBytes: fileBytes, files: entries.filter { !$0.isDirectory }.count, skipped: skipped)
    }

    struct Entry {
        var path: String
        var isDirectory: Bool
        var size: Int64
        var mode: Int
    }

    /// Walks with `openat` and `O_NOFOLLOW` throughout, so a link swapped in anywhere is never followed.
    static func walk(_ dirfd: Int32, prefix: String, into entries: inout [Entry], skipped: inout [String], limits: Limits) throws {
        let dupfd = dup(dirfd)
        guard let dir = fdopendir(dupfd) else { close(dupfd); throw WUError(.io, "cannot list \(prefix.isEmpty ? "/out" : prefix)") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names {
            let path = prefix.isEmpty ? name : prefix + "/" + name
            var st = stat()
            guard fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            guard entries.count < limits.maxEntries else {
                throw WUError(.limitExceeded, "the output holds more than \(limits.maxEntries) entries")
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                entries.append(Entry(path: path, isDirectory: true, size: 0, mode: 0o755))
                let child = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { skipped.append(path); continue }
                defer { close(child) }
                try walk(child, prefix: path, into: &entries, skipped: &skipped, limits: limits)
            case S_IFREG:
                entries.append(Entry(path: path, isDirectory: false, size: Int64(st.st_size), mode: st.st_mode & 0o111 != 0 ? 0o755 : 0o644))
            default:
                skipped.append(path)
            }
        }
    }

    /// Writes the canonical tar, hashing exactly the bytes written.
    static func writeTar(_ entries: [Entry], root: Int32, to path: String) throws -> String {
        final class Context {
            var hasher = SHA256()
            var fd: Int32 = -1
            var failed = false
        }
        let context = Context()
        context.fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        defer { close(context.fd) }
        guard let archive = archive_write_new() else { throw WUError(.io, "libarchive could not allocate a writer") }
        defer { archive_write_free(archive) }
        archive_write_set_format_pax_restricted(archive)
        archive_write_set_bytes_in_last_block(archive, 1)
        let opaque = Unmanaged.passUnretained(context).toOpaque()
        let status = archive_write_open2(archive, opaque, nil, { _, client, buffer, length in
            let context = Unmanaged<Context>.fromOpaque(client!).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
            context.hasher.update(bufferPointer: bytes)
            do { try FileIO.writeAll(context.fd, bytes, path: "output tar") } catch {
                context.failed = true
                return -1
            }
            return length
        }, nil, nil)
        func check(_ status: Int32, _ what: String) throws {
            guard status >= ARCHIVE_WARN, !context.failed else {
                let reason = archive_error_string(archive).map { String(cString: $0) } ?? "write failed"
                throw WUError(.io, "cannot write the output archive: \(what): \(reason)")
            }
        }
        try check(status, "open")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        for item in entries {
            let entry = archive_entry_new()
            defer { archive_entry_free(entry) }
            archive_entry_set_pathname(entry, item.path)
            archive_entry_set_filetype(entry, item.isDirectory ? 0o040000 : 0o100000)
            archive_entry_set_perm(entry, mode_t(item.mode))
            archive_entry_set_size(entry, item.size)
            archive_entry_set_mtime(entry, 0, 0)
            try check(archive_write_header(archive, entry), "header of \(item.path)")
            guard !item.isDirectory else { continue }
            let fd = try openBeneath(root, item.path)
            defer { close(fd) }
            var written: Int64 = 0
            while written < item.size {
                let n = try FileIO.read(fd, into: buffer, path: item.path)
                if n == 0 { break }
                let take = Int(min(Int64(n), item.size - written))
                guard archive_write_data(archive, buffer.baseAddress, take) == take else { try check(ARCHIVE_FATAL, "data of \(item.path)"); break }
                written += Int64(take)
            }
            // A file that shrank after the walk is padded so the header stays true; its digest then differs honestly.
            while written < item.size {
                let zeros = [UInt8](repeating: 0, count: Int(min(Int64(65536), item.size - written)))
                _ = zeros.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
                written += Int64(zeros.count)
            }
        }
        try check(archive_write_close(archive), "close")
        return Digest.hex(context.hasher.finalize())
    }

    /// Opens a regular file below `root` without following any link on the way.
    static func openBeneath(_ root: Int32, _ path: String) throws -> Int32 {
        var current = dup(root)
        let components = path.split(separator: "/").map(String.init)
        for (index, component) in components.enumerated() {
            let last = index == components.count - 1
            let next = openat(current, component, (last ? O_RDONLY : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC)
            let error = errno
            close(current)
            guard next >= 0 else { throw WUError(.io, "cannot open \(path) in the output", cause: SystemCallError("openat", path: path, errno: error)) }
            current = next
        }
        return current
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
