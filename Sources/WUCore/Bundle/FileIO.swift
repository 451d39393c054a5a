import CArchive
#if canImport(Glibc)
import Glibc
#endif

/// Thin, throwing wrappers over the file calls wu makes; each error names the call and the path.
public enum FileIO {
    public static func open(_ path: String, _ flags: Int32, mode: UInt32 = 0) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WUError(.io, "cannot open \(path)", cause: SystemCallError("open", path: path, errno: errno)) }
        return fd
    }

    /// Reads up to `count` bytes, retrying on EINTR; 0 means end of file.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw WUError(.io, "cannot read \(path)", cause: SystemCallError("read", path: path, errno: errno))
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw WUError(.io, "cannot write \(path)", cause: SystemCallError("write", path: path, errno: errno))
            }
            offset += n
        }
    }

    public static func readFile(_ path: String, limit: Int = 64 << 20) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try read(fd, into: $0, path: path) }
            if n == 0 { return result }
            result += buffer[0..<n]
            guard result.count <= limit else { throw WUError(.limitExceeded, "\(path) is larger than \(ByteSize.format(Int64(limit)))") }
        }
    }

    static func lstat(_ path: String) throws -> stat {
        var st = stat()
        guard Glibc.lstat(path, &st) == 0 else {
            throw WUError(.io, "cannot stat \(path)", cause: SystemCallError("lstat", path: path, errno: errno))
        }
        return st
    }

    static func fileType(_ st: stat) -> mode_t { st.st_mode & S_IFMT }

    /// Removes a tree without following symbolic links, at any depth (``DirectoryTree/remove(_:)``).
    public static func removeTree(_ path: String) {
        DirectoryTree.remove(path)
    }

    /// Copies a file in 1 MiB chunks into a new file with exactly `mode` (umask ignored).
    public static func copyFile(from source: String, to target: String, mode: UInt32) throws {
        let input = try open(source, O_RDONLY)
        defer { close(input) }
        let output = try open(target, O_WRONLY | O_CREAT | O_EXCL, mode: mode)
        defer { close(output) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try read(input, into: buffer, path: source)
            if n == 0 { break }
            try writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: target)
        }
        fchmod(output, mode_t(mode))
    }

    /// Lists a directory's entries, sorted by byte order.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw WUError(.io, "cannot list \(path)", cause: SystemCallError("opendir", path: path, errno: errno))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// `mkdir -p` for a path whose parent chain the caller created or trusts.
    public static func makeDirectories(_ path: String, mode: UInt32 = 0o755) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw WUError(.io, "cannot create \(current)", cause: SystemCallError("mkdir", path: current, errno: errno))
            }
        }
    }
}
