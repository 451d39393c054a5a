import CArchive
import Crypto
#if canImport(Glibc)
import Glibc
#endif

extension OutputArchive {
    /// Checks a compressed output blob against its output digest and extracts it into a new directory.
    ///
    /// Used for an aggregate's inputs (`/in/<unit-id>/`) and for `wu results`. The tar must hold regular
    /// files and directories with safe relative paths only; anything else, a digest that differs, or a
    /// limit passed removes the destination and throws.
    public static func extract(
        compressed path: String, expectedOutputDigest: String, to destination: String, limits: Limits = Limits()
    ) throws {
        let tar = destination + ".tar-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(tar) }
        // The same inflated bound as `verify`: what the orchestrator accepted must extract here.
        let headers = Int64(limits.maxEntries + 1) * InflatingStream.headerAllowance + InflatingStream.slack
        let digest = try decompress(path, to: tar, limit: limits.maxFileBytes + headers)
        guard digest == expectedOutputDigest else {
            throw WUError(.tamperedFile, "the output archive \(path) has digest \(digest), expected \(expectedOutputDigest)")
        }
        do {
            try extractTar(tar, to: destination, limits: limits)
        } catch {
            FileIO.removeTree(destination)
            throw error
        }
    }

    /// Inflates a zstd stream into `tar`, returning the SHA-256 of the inflated bytes.
    static func decompress(_ path: String, to tar: String, limit: Int64) throws -> String {
        guard let archive = archive_read_new() else { throw WUError(.io, "libarchive could not allocate a reader") }
        defer { archive_read_free(archive) }
        archive_read_support_filter_zstd(archive)
        archive_read_support_format_raw(archive)
        guard archive_read_open_filename(archive, path, 1 << 20) == ARCHIVE_OK else {
            throw WUError(.corruptArchive, "cannot read the output archive \(path): \(archive_error_string(archive).map { String(cString: $0) } ?? "")")
        }
        var entry: OpaquePointer?
        guard archive_read_next_header(archive, &entry) == ARCHIVE_OK else {
            throw WUError(.corruptArchive, "the output archive \(path) is empty or not zstd")
        }
        let fd = try FileIO.open(tar, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        defer { close(fd) }
        var hasher = SHA256()
        var total: Int64 = 0
        var block: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        while true {
            let status = archive_read_data_block(archive, &block, &size, &offset)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN else {
                throw WUError(.corruptArchive, "the output archive \(path) is damaged: \(archive_error_string(archive).map { String(cString: $0) } ?? "")")
            }
            total += Int64(size)
            guard total <= limit else { throw WUError(.limitExceeded, "the output archive \(path) inflates past \(ByteSize.format(limit))") }
            let bytes = UnsafeRawBufferPointer(start: block, count: size)
            hasher.update(bufferPointer: bytes)
            try FileIO.writeAll(fd, bytes, path: tar)
        }
        return Digest.hex(hasher.finalize())
    }

    /// Extracts a canonical output tar: regular files and directories with safe paths only.
    static func extractTar(_ tar: String, to destination: String, limits: Limits) throws {
        guard mkdir(destination, 0o755) == 0 || (errno == EEXIST && (try? FileIO.listDirectory(destination))?.isEmpty == true) else {
            throw WUError(.io, "cannot extract into \(destination): it must be a new or empty directory")
        }
        guard let archive = archive_read_new() else { throw WUError(.io, "libarchive could not allocate a reader") }
        defer { archive_read_free(archive) }
        archive_read_support_format_tar(archive)
        guard archive_read_open_filename(archive, tar, 1 << 20) == ARCHIVE_OK else { throw WUError(.corruptArchive, "cannot read \(tar)") }
        var entry: OpaquePointer?
        var count = 0
        var total: Int64 = 0
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN, let entry else { throw WUError(.corruptArchive, "the output tar is damaged") }
            count += 1
            guard count <= limits.maxEntries else { throw WUError(.limitExceeded, "the output holds more than \(limits.maxEntries) entries") }
            let path = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
            let clean = path.hasSuffix("/") ? String(path.dropLast()) : path
            guard Validate.isSafeRelativePath(clean) else { throw WUError(.unsafeEntry, "the output holds an unsafe path '\(path)'") }
            guard clean.utf8.count <= limits.maxPathBytes, clean.utf8.count(where: { $0 == UInt8(ascii: "/") }) < limits.maxDepth else {
                throw WUError(.limitExceeded, "the output holds a path deeper than \(limits.maxDepth) directories or longer than \(limits.maxPathBytes) bytes")
            }
            let target = destination + "/" + clean
            switch mode_t(archive_entry_filetype(entry)) {
            case S_IFDIR:
                guard mkdir(target, 0o755) == 0 || errno == EEXIST else {
                    throw WUError(.io, "cannot create \(target)", cause: SystemCallError("mkdir", path: target, errno: errno))
                }
            case S_IFREG where archive_entry_hardlink(entry) == nil:
                total += archive_entry_size(entry)
                guard total <= limits.maxFileBytes else { throw WUError(.limitExceeded, "the output is larger than \(ByteSize.format(limits.maxFileBytes))") }
                let mode: mode_t = archive_entry_perm(entry) & 0o111 != 0 ? 0o755 : 0o644
                let fd = try FileIO.open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode)
                defer { close(fd) }
                var block: UnsafeRawPointer?
                var size = 0
                var offset: Int64 = 0
                while archive_read_data_block(archive, &block, &size, &offset) == ARCHIVE_OK {
                    try FileIO.writeAll(fd, UnsafeRawBufferPointer(start: block, count: size), path: target)
                }
                fchmod(fd, mode)
            default:
                throw WUError(.unsafeEntry, "the output holds '\(path)', which is not a regular file or directory")
            }
        }
    }
}
