import CArchive
import Crypto
#if canImport(Glibc)
import Glibc
#endif

extension OutputArchive {
    /// Which of DESIGN.md's output bounds a refused output passed: the `cause` of `pack`'s
    /// `limitExceeded`, so a runner can tell a unit that outgrew its disk from one whose tree no
    /// runner would take (too many entries, too deep, a path too long).
    public enum Bound: String, Error, Sendable {
        case entries
        case depth
        case pathLength = "path-length"
        case disk
    }

    /// Writes the canonical tar of one directory tree, in one pass, in the tar's order.
    ///
    /// The tar is sorted by full path (byte order). A depth-first walk gives the same order when
    /// each directory's children are sorted by their name, with a directory's contents keyed by
    /// its name plus `/`: under one parent, `a` < `a-c` < `a/…` holds for these keys exactly as
    /// for the full paths, since no name holds a `/`. So a directory contributes two items, its
    /// header and its contents, which need not be neighbours.
    struct Packer {
        let writer: TarWriter
        let limits: Limits
        private(set) var fileBytes: Int64 = 0
        private(set) var files = 0
        private(set) var skipped: [String] = []
        private var entries = 0
        /// The current directory's path in the tar (no trailing `/`), empty at the top.
        private var path: [UInt8] = []

        /// The most skipped paths listed in the summary (the rest are only counted as entries).
        static let maxSkippedListed = 1000

        init(writer: TarWriter, limits: Limits) {
            self.writer = writer
            self.limits = limits
        }

        /// One child of a directory: its header (or its skipping), or the walk into its contents.
        struct Item {
            var key: [UInt8]
            var name: [CChar]
            var kind: Kind
            enum Kind { case directory, contents, file, other }
        }

        /// One directory on the way down: its descriptor (at most `maxDepth` are open), its items, and its path's length.
        struct Level {
            var fd: Int32
            var items: [Item]
            var next = 0
            var pathLength: Int
        }

        mutating func pack(_ root: Int32) throws {
            let top = dup(root)
            guard top >= 0 else { throw WUError(.io, "cannot read the output directory", cause: SystemCallError("dup", path: "/out", errno: errno)) }
            var stack = [Level(fd: top, items: try items(in: top, depth: 1), pathLength: 0)]
            defer { for level in stack { close(level.fd) } }
            while let level = stack.last {
                guard level.next < level.items.count else {
                    close(level.fd)
                    stack.removeLast()
                    path.removeSubrange(level.pathLength...)
                    continue
                }
                let item = level.items[level.next]
                stack[stack.count - 1].next += 1
                if item.kind == .contents {
                    let child = openat(level.fd, item.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    guard child >= 0 else {
                        skip(item.name)
                        continue
                    }
                    let length = path.count
                    append(item.name)
                    stack.append(Level(fd: child, items: [], pathLength: length))
                    stack[stack.count - 1].items = try items(in: child, depth: stack.count)
                } else {
                    try write(item, in: level.fd)
                }
            }
        }

        /// The children of an open directory as sorted items, each counted and checked against the bounds.
        private mutating func items(in fd: Int32, depth: Int) throws -> [Item] {
            var items: [Item] = []
            for name in DirectoryTree.names(in: fd) {
                entries += 1
                guard entries <= limits.maxEntries else { throw refusal("it holds more than \(limits.maxEntries) entries", .entries) }
                guard depth <= limits.maxDepth else { throw refusal("it is deeper than \(limits.maxDepth) directories (under \(shown(path)))", .depth) }
                let bytes = name.dropLast().map { UInt8(bitPattern: $0) }
                guard path.count + 1 + bytes.count <= limits.maxPathBytes else {
                    throw refusal("a path is longer than \(limits.maxPathBytes) bytes (under \(shown(path)))", .pathLength)
                }
                var st = stat()
                guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    items.append(Item(key: bytes, name: name, kind: .directory))
                    items.append(Item(key: bytes + [UInt8(ascii: "/")], name: name, kind: .contents))
                case S_IFREG: items.append(Item(key: bytes, name: name, kind: .file))
                default: items.append(Item(key: bytes, name: name, kind: .other))
                }
            }
            items.sort { $0.key.lexicographicallyPrecedes($1.key) }
            return items
        }

        private mutating func write(_ item: Item, in dirfd: Int32) throws {
            let length = path.count
            append(item.name)
            defer { path.removeSubrange(length...) }
            switch item.kind {
            case .directory:
                try writer.header(path, isDirectory: true, size: 0, mode: 0o755)
            case .file:
                // Opened without following and without blocking (a FIFO swapped in), then judged by what was opened.
                let fd = openat(dirfd, item.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                var st = stat()
                guard fd >= 0, fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
                    if fd >= 0 { close(fd) }
                    skipped(path)
                    return
                }
                defer { close(fd) }
                let size = Int64(st.st_size)
                try writer.header(path, isDirectory: false, size: size, mode: st.st_mode & 0o111 != 0 ? 0o755 : 0o644)
                try writer.data(from: fd, size: size, path: shown(path))
                fileBytes += size
                files += 1
            case .other, .contents:
                skipped(path)
            }
        }

        private mutating func append(_ name: [CChar]) {
            if !path.isEmpty { path.append(UInt8(ascii: "/")) }
            path.append(contentsOf: name.dropLast().map { UInt8(bitPattern: $0) })
        }

        private mutating func skip(_ name: [CChar]) {
            let length = path.count
            append(name)
            skipped(path)
            path.removeSubrange(length...)
        }

        private mutating func skipped(_ path: [UInt8]) {
            if skipped.count < Self.maxSkippedListed { skipped.append(String(decoding: path, as: UTF8.self)) }
        }

        /// A path for a message: its first 200 bytes.
        private func shown(_ path: [UInt8]) -> String {
            path.isEmpty ? "/out" : "/out/" + String(decoding: path.prefix(200), as: UTF8.self) + (path.count > 200 ? "…" : "")
        }

        private func refusal(_ what: String, _ bound: Bound) -> WUError {
            WUError(.limitExceeded, "the output is refused: \(what); every runner refuses the same (DESIGN.md's output bounds)", cause: bound)
        }
    }

    /// A libarchive writer of the canonical tar into a file, hashing exactly the bytes written and
    /// counting them against a bound as they go.
    final class TarWriter {
        private let archive: OpaquePointer
        private var hasher = SHA256()
        private let fd: Int32
        private let maxBytes: Int64
        private var written: Int64 = 0
        private var failed = false
        private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

        init(path: String, maxBytes: Int64) throws {
            fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            guard let archive = archive_write_new() else {
                close(fd)
                throw WUError(.io, "libarchive could not allocate a writer")
            }
            self.archive = archive
            self.maxBytes = maxBytes
            archive_write_set_format_pax_restricted(archive)
            // Unblocked: each header and data write reaches the callback at once, so the count is
            // exact after every entry. The bytes are the same as blocked output with no final padding.
            archive_write_set_bytes_per_block(archive, 0)
            archive_write_set_bytes_in_last_block(archive, 1)
            let opaque = Unmanaged.passUnretained(self).toOpaque()
            let status = archive_write_open2(archive, opaque, nil, { _, client, buffer, length in
                let writer = Unmanaged<TarWriter>.fromOpaque(client!).takeUnretainedValue()
                let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
                writer.hasher.update(bufferPointer: bytes)
                writer.written += Int64(length)
                do { try FileIO.writeAll(writer.fd, bytes, path: "output tar") } catch {
                    writer.failed = true
                    return -1
                }
                return length
            }, nil, nil)
            try check(status, "open")
        }

        deinit {
            archive_write_free(archive)
            buffer.deallocate()
            close(fd)
        }

        private func check(_ status: Int32, _ what: String) throws {
            guard status >= ARCHIVE_WARN, !failed else {
                let reason = archive_error_string(archive).map { String(cString: $0) } ?? "write failed"
                throw WUError(.io, "cannot write the output archive: \(what): \(reason)")
            }
        }

        private func checkBound(adding more: Int64 = 0) throws {
            guard written + more <= maxBytes else {
                throw WUError(
                    .limitExceeded,
                    "the output is refused: its archive (headers included) passes the unit's disk limit of \(ByteSize.format(maxBytes))",
                    cause: Bound.disk
                )
            }
        }

        func header(_ path: [UInt8], isDirectory: Bool, size: Int64, mode: mode_t) throws {
            // The header and the data it announces must fit before anything is read.
            try checkBound(adding: 512 + (size + 511) / 512 * 512)
            let entry = archive_entry_new()
            defer { archive_entry_free(entry) }
            (path + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { archive_entry_copy_pathname(entry, $0.baseAddress) } }
            archive_entry_set_filetype(entry, isDirectory ? 0o040000 : 0o100000)
            archive_entry_set_perm(entry, mode)
            archive_entry_set_size(entry, size)
            archive_entry_set_mtime(entry, 0, 0)
            try check(archive_write_header(archive, entry), "header of \(String(decoding: path.prefix(200), as: UTF8.self))")
            try checkBound(adding: (size + 511) / 512 * 512)
        }

        /// Copies `size` bytes of an open file; a file that shrank after its header is padded with
        /// zeros so the header stays true (its digest then differs honestly).
        func data(from fd: Int32, size: Int64, path: String) throws {
            var done: Int64 = 0
            while done < size {
                let n = try FileIO.read(fd, into: buffer, path: path)
                if n == 0 { break }
                let take = Int(min(Int64(n), size - done))
                guard archive_write_data(archive, buffer.baseAddress, take) == take else { try check(ARCHIVE_FATAL, "data of \(path)"); break }
                done += Int64(take)
            }
            if done < size {
                let zeros = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, Int(size - done))])
                _ = zeros.initializeMemory(as: UInt8.self, repeating: 0)
                while done < size {
                    let take = Int(min(Int64(zeros.count), size - done))
                    guard archive_write_data(archive, zeros.baseAddress, take) == take else { try check(ARCHIVE_FATAL, "data of \(path)"); break }
                    done += Int64(take)
                }
            }
            try check(ARCHIVE_OK, "data of \(path)")
        }

        /// Writes the end marker and returns the SHA-256 of the whole tar.
        func finish() throws -> String {
            try check(archive_write_close(archive), "close")
            return Digest.hex(hasher.finalize())
        }
    }
}
