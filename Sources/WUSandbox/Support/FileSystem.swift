import Glibc
import WUCore

/// Plain file-system calls the sandbox needs, without Foundation.
enum FileSystem {
    /// The whole file, or nil when it cannot be opened.
    static func readFile(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while out.count < limit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }

    /// A small kernel control file (a cgroup or /proc value, under 4 KiB): one open, one read,
    /// one close, no heap buffer.
    static func readControl(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer -> String? in
            var n: Int
            repeat { n = read(fd, buffer.baseAddress, buffer.count) } while n < 0 && errno == EINTR
            guard n >= 0 else { return nil }
            if n == buffer.count { return nil }  // not a small file: the caller's mistake, never a truncated value
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<n]), as: UTF8.self)
        }
    }

    /// Whether a file has no content (a cgroup's `cgroup.procs`: no process); nil when it cannot
    /// be read.
    static func isEmpty(_ path: String) -> Bool? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var byte: UInt8 = 0
        var n: Int
        repeat { n = read(fd, &byte, 1) } while n < 0 && errno == EINTR
        return n < 0 ? nil : n == 0
    }

    static func readText(_ path: String) -> String? {
        readFile(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes `text` to an existing file (cgroup control files); throws with errno.
    static func write(_ text: String, to path: String) throws(SandboxError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SandboxError(.io, "open \(path)", errno: errno) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if n != bytes.count { throw SandboxError(.io, "write '\(text)' to \(path)", errno: n < 0 ? errno : EIO) }
    }

    /// Creates a new file with `bytes`, replacing any old one atomically (write + rename).
    static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SandboxError) {
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SandboxError(.io, "create \(tmp)", errno: errno) }
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard n == bytes.count else {
            unlink(tmp)
            throw SandboxError(.io, "write \(tmp)", errno: EIO)
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw SandboxError(.io, "rename \(tmp)", errno: e)
        }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// mkdir -p with `mode` for new levels.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SandboxError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw SandboxError(.io, "mkdir \(current)", errno: errno)
            }
        }
    }

    /// Entries of a directory, without `.` and `..`.
    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Usage of a tree, not following symlinks: allocated bytes (what the disk pays, at least 4 KiB
    /// an entry) and the sum of regular files' sizes, at any depth (``DirectoryTree``).
    static func usage(of path: String) -> (allocated: Int64, fileBytes: Int64) {
        DirectoryTree.usage(of: path)
    }

    /// rm -rf that never follows symlinks, at any depth (``DirectoryTree``).
    static func removeTree(_ path: String) {
        DirectoryTree.remove(path)
    }
}
