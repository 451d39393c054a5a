import CArchive
import Crypto
#if canImport(Glibc)
import Glibc
#endif

extension OutputArchive {
    /// DESIGN.md's fixed output bounds that do not depend on the unit: the same on every side.
    public static let maxDepth = 64
    public static let maxPathBytes = 4096

    /// Checks that a stored blob is an output archive of `outputDigest`, in one streaming pass and
    /// without writing anything.
    ///
    /// The blob must be a zstd stream inflating to a tar of regular files and directories with safe
    /// relative paths within DESIGN.md's bounds (depth 64, path 4,096 bytes, `limits.maxEntries`
    /// entries, `limits.maxFileBytes` of file data), and the SHA-256 of the inflated bytes must be
    /// `outputDigest`. The inflated size is bounded as it streams (file data plus a tar header
    /// allowance per entry seen), so a small hostile blob cannot make the caller inflate much more.
    ///
    /// - Throws: `corruptArchive` when it is not a zstd tar, `unsafeEntry`, `limitExceeded`, or
    ///   `tamperedFile` when it inflates to another digest.
    public static func verify(compressed path: String, outputDigest: String, limits: Limits) throws {
        let stream = try InflatingStream(path: path, limits: limits)
        defer { stream.close() }
        try stream.readTar()
        try stream.drain()
        let digest = Digest.hex(stream.hasher.finalize())
        guard digest == outputDigest else {
            throw WUError(.tamperedFile, "the blob inflates to a tar of digest \(digest), not the output_digest \(outputDigest)")
        }
    }

    /// A zstd stream inflated on demand, hashing every byte, with a tar reader pulling from it.
    final class InflatingStream {
        /// Tar bytes allowed per entry besides its data: a pax header for a 4,096-byte path, the
        /// ustar header and the data's padding, rounded up.
        static let headerAllowance: Int64 = 6 << 10
        /// The end-of-archive blocks, record padding and one inflated block read ahead.
        static let slack: Int64 = 1 << 20

        let compressed: OpaquePointer
        let path: String
        let limits: Limits
        var hasher = SHA256()
        var inflated: Int64 = 0
        var entries = 0
        var fileBytes: Int64 = 0
        var failure: WUError?
        /// Every path seen so far, by a 128-bit key of its SHA-256 (a hostile tar's 100,000 paths
        /// of 4 KiB would otherwise be held whole), and whether it is a directory.
        var seen: [PathKey: Bool] = [:]

        init(path: String, limits: Limits) throws {
            guard let archive = archive_read_new() else { throw WUError(.io, "libarchive could not allocate a reader") }
            compressed = archive
            self.path = path
            self.limits = limits
            archive_read_support_filter_zstd(archive)
            archive_read_support_format_raw(archive)
            var entry: OpaquePointer?
            guard archive_read_open_filename(archive, path, 1 << 16) == ARCHIVE_OK,
                archive_read_next_header(archive, &entry) == ARCHIVE_OK
            else {
                archive_read_free(archive)
                throw WUError(.corruptArchive, "the blob is not readable as an output archive")
            }
            // The raw reader accepts any bytes; an output archive is zstd and nothing else.
            guard archive_filter_count(archive) == 2, archive_filter_code(archive, 0) == ARCHIVE_FILTER_ZSTD else {
                archive_read_free(archive)
                throw WUError(.corruptArchive, "the blob is not zstd-compressed, as an output archive is")
            }
        }

        func close() { archive_read_free(compressed) }

        /// The next inflated block, hashed and counted against the bound; empty at the end.
        func next() throws -> UnsafeRawBufferPointer {
            var block: UnsafeRawPointer?
            var size = 0
            var offset: Int64 = 0
            let status = archive_read_data_block(compressed, &block, &size, &offset)
            if status == ARCHIVE_EOF { return UnsafeRawBufferPointer(start: nil, count: 0) }
            guard status >= ARCHIVE_WARN else {
                throw WUError(.corruptArchive, "the blob's zstd stream is damaged: \(archive_error_string(compressed).map { String(cString: $0) } ?? "")")
            }
            inflated += Int64(size)
            let bound = limits.maxFileBytes + Int64(entries + 1) * Self.headerAllowance + Self.slack
            guard inflated <= bound else {
                throw WUError(.limitExceeded, "the blob inflates past \(ByteSize.format(bound)), more than its entries can hold")
            }
            let bytes = UnsafeRawBufferPointer(start: block, count: size)
            hasher.update(bufferPointer: bytes)
            return bytes
        }

        /// Reads the inflated bytes as a tar, checking every entry; the tar reader pulls through `next()`.
        func readTar() throws {
            guard let tar = archive_read_new() else { throw WUError(.io, "libarchive could not allocate a reader") }
            defer { archive_read_free(tar) }
            archive_read_support_format_tar(tar)
            let opaque = Unmanaged.passUnretained(self).toOpaque()
            let opened = archive_read_open(tar, opaque, nil, { _, client, buffer in
                let stream = Unmanaged<InflatingStream>.fromOpaque(client!).takeUnretainedValue()
                do {
                    let bytes = try stream.next()
                    buffer?.pointee = bytes.baseAddress
                    return bytes.count
                } catch {
                    stream.failure = error as? WUError ?? WUError(.corruptArchive, "\(error)")
                    return -1
                }
            }, nil)
            try check(tar, opened)
            var entry: OpaquePointer?
            while true {
                let status = archive_read_next_header(tar, &entry)
                if status == ARCHIVE_EOF { return }
                try check(tar, status)
                guard let entry else { throw WUError(.corruptArchive, "the output tar is damaged") }
                try admit(entry)
                try check(tar, archive_read_data_skip(tar))
            }
        }

        /// One tar entry against the output rules.
        func admit(_ entry: OpaquePointer) throws {
            entries += 1
            guard entries <= limits.maxEntries else { throw WUError(.limitExceeded, "the output holds more than \(limits.maxEntries) entries") }
            let name = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
            let path = name.hasSuffix("/") ? String(name.dropLast()) : name
            guard Validate.isSafeRelativePath(path), path.utf8.count <= OutputArchive.maxPathBytes else {
                throw WUError(.unsafeEntry, "the output holds an unsafe path '\(name.prefix(200))'")
            }
            guard path.utf8.count(where: { $0 == UInt8(ascii: "/") }) < OutputArchive.maxDepth else {
                throw WUError(.limitExceeded, "the output nests deeper than \(OutputArchive.maxDepth) levels")
            }
            switch mode_t(archive_entry_filetype(entry)) {
            case S_IFDIR:
                try place(path, directory: true)
            case S_IFREG where archive_entry_hardlink(entry) == nil:
                try place(path, directory: false)
                fileBytes += archive_entry_size(entry)
                guard fileBytes <= limits.maxFileBytes else {
                    throw WUError(.limitExceeded, "the output is larger than \(ByteSize.format(limits.maxFileBytes))")
                }
            default:
                throw WUError(.unsafeEntry, "the output holds '\(name.prefix(200))', which is not a regular file or directory")
            }
        }

        /// The extractor's tree rules, so that what is accepted here extracts (FuzzTarget.verify):
        /// an entry's directory came earlier, as the canonical tar orders them; a file appears once
        /// and nothing is placed over it; a directory may be listed again.
        func place(_ path: String, directory: Bool) throws {
            if let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) {
                let parent = String(path[..<slash])
                guard seen[PathKey(parent)] == true else {
                    throw WUError(.unsafeEntry, "the output lists '\(path.prefix(200))' before its directory '\(parent.prefix(200))'")
                }
            }
            let key = PathKey(path)
            if let wasDirectory = seen[key], !(wasDirectory && directory) {
                throw WUError(.unsafeEntry, "the output lists '\(path.prefix(200))' twice")
            }
            seen[key] = directory
        }

        /// Hashes whatever follows the tar's end marker: it is part of the digest too.
        func drain() throws {
            while try next().count > 0 {}
        }

        func check(_ tar: OpaquePointer, _ status: Int32) throws {
            if let failure { throw failure }
            guard status >= ARCHIVE_WARN else {
                throw WUError(.corruptArchive, "the blob is not an output tar: \(archive_error_string(tar).map { String(cString: $0) } ?? "unreadable")")
            }
        }
    }
}

/// A path's identity in `InflatingStream.seen`: the first 128 bits of its SHA-256.
struct PathKey: Hashable {
    let high: UInt64
    let low: UInt64

    init(_ path: String) {
        let digest = Array(SHA256.hash(data: Array(path.utf8)))
        high = digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = digest[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }
}
