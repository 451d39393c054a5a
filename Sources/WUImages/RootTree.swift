import CArchive
import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// The root being unpacked, reached only through directory descriptors: ``LayerUnpacker``'s
/// per-entry rules.
final class RootTree {
    private let root: Int32
    /// Paths (`a/b`) this layer made: a whiteout in the same layer does not remove them, and an
    /// opaque directory keeps them (OCI: whiteouts apply to lower layers only).
    private var unpacked: Set<String> = []
    /// Directories whose mode lacks the owner's rwx: kept writable while unpacking, set at the end.
    private var deferredModes: [String: (path: [String], mode: mode_t)] = [:]
    /// The last parent directory opened, as most entries share their parent with the one before.
    private var cached: (path: [String], fd: Int32)?

    init(root: Int32) { self.root = root }

    deinit { if let cached { close(cached.fd) } }

    func startLayer() { unpacked = [] }

    /// Applies one tar entry; returns a description when it was skipped (a device, FIFO or socket).
    func apply(_ entry: OpaquePointer, from tar: TarEntries) throws -> String? {
        guard let rawName = archive_entry_pathname(entry) else { throw WUError(.unsafeEntry, "\(tar.stream.name) has an entry without a readable name") }
        let raw = String(cString: rawName)
        let parts = try Self.components(raw, in: tar.stream.name)
        guard let name = parts.last else { return nil }  // the root itself: its mode is the unpacker's
        let parentPath = Array(parts.dropLast())
        if name.hasPrefix(".wh.") {
            try whiteout(name, in: parentPath, raw: raw)
            return nil
        }
        guard let parent = try parent(parentPath, create: true, raw: raw) else { return nil }
        if let target = archive_entry_hardlink(entry) {
            try hardLink(name, in: parent, to: String(cString: target), raw: raw, layer: tar.stream.name)
        } else {
            switch mode_t(archive_entry_filetype(entry)) {
            case S_IFREG: try regularFile(name, in: parent, entry: entry, tar: tar, raw: raw)
            case S_IFDIR: try directory(name, in: parent, path: parts, mode: Self.permissions(entry), raw: raw)
            case S_IFLNK: try symbolicLink(name, in: parent, target: archive_entry_symlink(entry).map { String(cString: $0) }, raw: raw)
            case S_IFCHR, S_IFBLK: return "\(raw) (device node)"
            case S_IFIFO: return "\(raw) (FIFO)"
            case S_IFSOCK: return "\(raw) (socket)"
            case let type: throw WUError(.unsafeEntry, "\(raw) in \(tar.stream.name) is a file of unknown type \(String(type, radix: 8))")
            }
        }
        unpacked.insert(parts.joined(separator: "/"))
        return nil
    }

    /// A tar name as path components: `./` and empty components dropped; absolute paths, `..` and
    /// over-long names refused.
    static func components(_ raw: String, in layer: String) throws -> [String] {
        guard raw.utf8.count <= 4096 else { throw WUError(.unsafeEntry, "an entry of \(layer) has a name over 4096 bytes") }
        guard !raw.hasPrefix("/") else {
            throw WUError(.unsafeEntry, "\(raw) in \(layer) is an absolute path; layers hold paths relative to the root")
        }
        var parts: [String] = []
        for component in raw.split(separator: "/") where component != "." {
            guard component != ".." else { throw WUError(.unsafeEntry, "\(raw) in \(layer) contains '..'; a layer may not reach outside the root") }
            guard component.utf8.count <= 255 else { throw WUError(.unsafeEntry, "\(raw) in \(layer) has a name over 255 bytes") }
            parts.append(String(component))
        }
        return parts
    }

    /// The tar's permission bits without setuid and setgid (the sticky bit stays: `/tmp` is 1777).
    static func permissions(_ entry: OpaquePointer) -> mode_t { mode_t(archive_entry_perm(entry)) & 0o1777 }

    /// The parent directory at `path` (cached; the caller must not close it). Missing directories
    /// are made (0755) when `create`, as layers may omit them; nil when missing and not `create`.
    private func parent(_ path: [String], create: Bool, raw: String) throws -> Int32? {
        if let cached, cached.path == path { return cached.fd }
        guard let fd = try openDirectory(path, create: create, raw: raw) else { return nil }
        if let cached { close(cached.fd) }
        cached = (path, fd)
        return fd
    }

    /// Opens the directory at `path` below the root, one component at a time without following a
    /// link; the caller owns the descriptor.
    private func openDirectory(_ path: [String], create: Bool, raw: String) throws -> Int32? {
        var current = dup(root)
        guard current >= 0 else { throw WUError(.io, "cannot duplicate a descriptor", cause: SystemCallError("dup", errno: errno)) }
        for (depth, component) in path.enumerated() {
            var next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT, create {
                if mkdirat(current, component, 0o755) != 0, errno != EEXIST {
                    let error = errno
                    close(current)
                    throw WUError(.io, "cannot create \(path[...depth].joined(separator: "/")) for \(raw)", cause: SystemCallError("mkdirat", errno: error))
                }
                next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let error = errno
            close(current)
            guard next >= 0 else {
                if error == ENOENT && !create { return nil }
                let through = path[...depth].joined(separator: "/")
                if error == ELOOP || error == ENOTDIR {
                    throw WUError(.unsafeEntry, "\(raw) goes through \(through), which is a symbolic link or not a directory; wu never follows links in an image")
                }
                throw WUError(.io, "cannot open \(through) for \(raw)", cause: SystemCallError("openat", errno: error))
            }
            current = next
        }
        return current
    }

    /// Clears `name` in `parent` for a new entry; returns true when a directory was kept (`keepDirectory`).
    private func clear(_ name: String, in parent: Int32, keepDirectory: Bool, raw: String) throws -> Bool {
        var st = stat()
        guard fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        let isDirectory = st.st_mode & S_IFMT == S_IFDIR
        if isDirectory && keepDirectory { return true }
        let removed = isDirectory ? DirectoryTree.remove(in: parent, name: name) : unlinkat(parent, name, 0) == 0
        guard removed else { throw WUError(.io, "cannot replace \(raw) from a lower layer", cause: SystemCallError("unlinkat", errno: errno)) }
        return false
    }

    private func regularFile(_ name: String, in parent: Int32, entry: OpaquePointer, tar: TarEntries, raw: String) throws {
        _ = try clear(name, in: parent, keepDirectory: false, raw: raw)
        // O_EXCL after the unlink: never writes through a link, never into a file another name shares.
        let fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WUError(.io, "cannot create \(raw)", cause: SystemCallError("openat", errno: errno)) }
        defer { close(fd) }
        try tar.readData { chunk in try FileIO.writeAll(fd, chunk, path: raw) }
        fchmod(fd, Self.permissions(entry))
        if archive_entry_mtime_is_set(entry) != 0 {
            let time = timespec(tv_sec: archive_entry_mtime(entry), tv_nsec: archive_entry_mtime_nsec(entry))
            let times = [time, time]
            futimens(fd, times)
        }
    }

    private func directory(_ name: String, in parent: Int32, path: [String], mode: mode_t, raw: String) throws {
        if try !clear(name, in: parent, keepDirectory: true, raw: raw), mkdirat(parent, name, 0o700) != 0 {
            throw WUError(.io, "cannot create the directory \(raw)", cause: SystemCallError("mkdirat", errno: errno))
        }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw WUError(.io, "cannot open the directory \(raw)", cause: SystemCallError("openat", errno: errno)) }
        defer { close(fd) }
        let key = path.joined(separator: "/")
        if mode & 0o700 == 0o700 {
            deferredModes[key] = nil
            fchmod(fd, mode)
        } else {
            deferredModes[key] = (path, mode)
            fchmod(fd, mode | 0o700)
        }
    }

    private func symbolicLink(_ name: String, in parent: Int32, target: String?, raw: String) throws {
        guard let target, !target.isEmpty, target.utf8.count <= 4096 else {
            throw WUError(.unsafeEntry, "\(raw) is a symbolic link without a usable target")
        }
        _ = try clear(name, in: parent, keepDirectory: false, raw: raw)
        guard symlinkat(target, parent, name) == 0 else {
            throw WUError(.io, "cannot create the symbolic link \(raw)", cause: SystemCallError("symlinkat", errno: errno))
        }
    }

    /// A hard link: only to a regular file already in this root, reached without following a link.
    private func hardLink(_ name: String, in parent: Int32, to target: String, raw: String, layer: String) throws {
        let targetParts = try Self.components(target, in: layer)
        guard let targetName = targetParts.last, targetParts.count > 0 else {
            throw WUError(.unsafeEntry, "\(raw) is a hard link to the root; links must name a file in the image")
        }
        guard let directory = try openDirectory(Array(targetParts.dropLast()), create: false, raw: raw) else {
            throw WUError(.unsafeEntry, "\(raw) is a hard link to \(target), which is not in the image (yet)")
        }
        defer { close(directory) }
        var st = stat()
        guard fstatat(directory, targetName, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw WUError(.unsafeEntry, "\(raw) is a hard link to \(target), which is not a regular file in the image")
        }
        if try targetParts == Self.components(raw, in: layer) { return }
        _ = try clear(name, in: parent, keepDirectory: false, raw: raw)
        guard linkat(directory, targetName, parent, name, 0) == 0 else {
            throw WUError(.io, "cannot link \(raw) to \(target)", cause: SystemCallError("linkat", errno: errno))
        }
    }

    /// `.wh.NAME` removes NAME as lower layers left it; `.wh..wh..opq` makes its directory opaque.
    private func whiteout(_ name: String, in parentPath: [String], raw: String) throws {
        if name == ".wh..wh..opq" {
            guard let directory = try openDirectory(parentPath, create: false, raw: raw) else { return }
            defer { close(directory) }
            // The cached parent may lie below what is removed now.
            if let cached { close(cached.fd) }
            cached = nil
            try removeLower(in: directory, prefix: parentPath.joined(separator: "/"), raw: raw)
            return
        }
        if name.hasPrefix(".wh..wh.") { return }  // aufs' own bookkeeping (.wh..wh.plnk): nothing to apply
        let victim = String(name.dropFirst(".wh.".count))
        guard !victim.isEmpty, victim != ".", victim != ".." else { throw WUError(.unsafeEntry, "\(raw) is a whiteout of no file") }
        guard !unpacked.contains((parentPath + [victim]).joined(separator: "/")) else { return }
        guard let parent = try parent(parentPath, create: false, raw: raw) else { return }
        guard DirectoryTree.remove(in: parent, name: victim) else {
            throw WUError(.io, "cannot apply the whiteout \(raw)", cause: SystemCallError("unlinkat", errno: errno))
        }
    }

    /// Removes what lower layers put below an opaque directory, keeping (and descending into) what
    /// this layer made there already.
    private func removeLower(in directory: Int32, prefix: String, raw: String) throws {
        for entry in DirectoryTree.names(in: directory) {
            let name = String(decoding: entry.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let path = prefix.isEmpty ? name : prefix + "/" + name
            guard unpacked.contains(path) else {
                guard DirectoryTree.remove(in: directory, name: name) else {
                    throw WUError(.io, "cannot apply the opaque whiteout \(raw) to \(path)", cause: SystemCallError("unlinkat", errno: errno))
                }
                continue
            }
            let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { continue }  // a file or link this layer made: kept as it is
            defer { close(child) }
            try removeLower(in: child, prefix: path, raw: raw)
        }
    }

    /// Sets the modes kept writable while unpacking, deepest first.
    func applyDeferredModes() {
        for (path, mode) in deferredModes.values.sorted(by: { $0.path.count > $1.path.count }) {
            guard let fd = try? openDirectory(path, create: false, raw: path.joined(separator: "/")) else { continue }
            fchmod(fd, mode)
            close(fd)
        }
    }
}
