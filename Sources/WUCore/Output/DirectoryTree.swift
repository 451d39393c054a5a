import CArchive  // `struct stat` is seen through libarchive's module first (MemberImportVisibility)
#if canImport(Glibc)
import Glibc
#endif

/// Walks, measures and removes a tree a unit wrote, relative to directory descriptors.
///
/// A unit can nest directories far deeper than `PATH_MAX` (4,096 bytes): a call given the whole
/// path fails with `ENAMETOOLONG` and whatever lies below is neither counted nor removed. Here no
/// call ever gets more than one name: each step is `openat`/`fstatat`/`unlinkat` on the directory
/// one level up, with `O_NOFOLLOW`/`AT_SYMLINK_NOFOLLOW`, so a link is never followed. Only the
/// current directory is held open (a tree 10,000 levels deep costs one descriptor); the walk goes
/// back up through `..` and checks that it arrived where it came from (device and inode), so a
/// directory moved meanwhile ends the walk instead of leading it elsewhere. Memory holds the names
/// of the directories still to visit on the way down, never a path. Names are kept as the bytes
/// the kernel gave (NUL-terminated), never decoded: a name that is not UTF-8 is still reached.
public enum DirectoryTree {
    /// An entry's name as the kernel spells it, NUL-terminated (pass it where a C string goes).
    public typealias Name = [CChar]

    /// What a walk tells of an entry (from `fstatat` without following links).
    public struct Entry: Sendable {
        public var isDirectory: Bool
        public var isRegularFile: Bool
        /// The size a regular file claims (a sparse file claims more than it holds).
        public var size: Int64
        /// What the entry costs the disk at least: its allocated blocks, and at least 4 KiB (an
        /// inode and a directory entry are disk too, so a million empty files pass a limit as a
        /// big file would).
        public var charge: Int64

        init(_ st: stat) {
            isDirectory = st.st_mode & S_IFMT == S_IFDIR
            isRegularFile = st.st_mode & S_IFMT == S_IFREG
            size = Int64(st.st_size)
            charge = max(Int64(st.st_blocks) * 512, 4096)
        }
    }

    /// Calls `visit(dirfd, name, st)` for every entry below `path` (not for `path` itself), a
    /// directory before its contents, and `leave(dirfd, name)` once a directory's contents are done.
    ///
    /// - Returns: false when `path` is not a directory that can be opened, when `visit` returned
    ///   false (stop), or when a directory moved during the walk.
    @discardableResult
    public static func walk(
        _ path: String, visit: (Int32, Name, Entry) -> Bool, leave: (Int32, Name) -> Void = { _, _ in }
    ) -> Bool {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        return walk(directory: fd, visit: visit, leave: leave)
    }

    /// ``walk(_:visit:leave:)`` from a directory already open (and closed here): for trees reached
    /// by descriptor, whose path may be longer than `PATH_MAX` or not trusted.
    @discardableResult
    public static func walk(
        directory: Int32, visit: (Int32, Name, Entry) -> Bool, leave: (Int32, Name) -> Void = { _, _ in }
    ) -> Bool {
        var fd = directory
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return false }
        var stack = [Level(names: names(in: fd), device: st.st_dev, inode: st.st_ino)]
        while let top = stack.last {
            if top.next < top.names.count {
                let name = top.names[top.next]
                stack[stack.count - 1].next += 1
                guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                guard visit(fd, name, Entry(st)) else { return false }
                guard st.st_mode & S_IFMT == S_IFDIR else { continue }
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { continue }
                var childStat = stat()
                // Swapped between fstatat and openat: not the directory visited.
                guard fstat(child, &childStat) == 0, childStat.st_dev == st.st_dev, childStat.st_ino == st.st_ino else {
                    close(child)
                    continue
                }
                close(fd)
                fd = child
                stack.append(Level(names: names(in: fd), device: st.st_dev, inode: st.st_ino))
            } else {
                stack.removeLast()
                guard let parent = stack.last else { break }
                let up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard up >= 0 else { return false }
                close(fd)
                fd = up
                guard fstat(fd, &st) == 0, st.st_dev == parent.device, st.st_ino == parent.inode else { return false }
                leave(fd, parent.names[parent.next - 1])
            }
        }
        return true
    }

    /// `rm -rf` of a tree of any depth, never following a link. A path that is not a directory is unlinked.
    public static func remove(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            unlink(path)
            return
        }
        // A walk cut short (a directory moved) is walked again; each pass removes what it reached.
        for _ in 0..<8 {
            walk(
                path,
                visit: { dirfd, name, entry in
                    if !entry.isDirectory { unlinkat(dirfd, name, 0) }
                    return true
                },
                leave: { dirfd, name in unlinkat(dirfd, name, AT_REMOVEDIR) }
            )
            if rmdir(path) == 0 || errno == ENOENT { return }
        }
    }

    /// `rm -rf` of the entry `name` in the directory `dirfd`, never following a link: a tree reached
    /// by descriptor (an image being unpacked) is removed without a path.
    ///
    /// - Returns: false when something could not be removed.
    @discardableResult
    public static func remove(in dirfd: Int32, name: String) -> Bool {
        var st = stat()
        guard fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return errno == ENOENT }
        guard st.st_mode & S_IFMT == S_IFDIR else { return unlinkat(dirfd, name, 0) == 0 }
        for _ in 0..<8 {
            let child = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { return false }
            walk(
                directory: child,
                visit: { parent, entry, info in
                    if !info.isDirectory { unlinkat(parent, entry, 0) }
                    return true
                },
                leave: { parent, entry in unlinkat(parent, entry, AT_REMOVEDIR) }
            )
            if unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT { return true }
        }
        return false
    }

    /// Usage of a tree, not following links: allocated bytes (each entry charged at least 4 KiB,
    /// the top directory included) and the sum of regular files' sizes.
    ///
    /// - Parameters:
    ///   - stopAbove: Stop counting once `allocated` passes it: the answer is then only known to
    ///     be larger, and the walk costs no more than the limit's worth of entries.
    ///   - onEntry: Called for each entry below `path` as it is counted.
    public static func usage(
        of path: String, stopAbove: Int64 = .max, onEntry: (Int32, Name, Entry) -> Void = { _, _, _ in }
    ) -> (allocated: Int64, fileBytes: Int64) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return (0, 0) }
        let top = Entry(st)
        var allocated = top.charge
        var fileBytes: Int64 = top.isRegularFile ? top.size : 0
        guard top.isDirectory else { return (allocated, fileBytes) }
        walk(path) { dirfd, name, entry in
            allocated += entry.charge
            if entry.isRegularFile { fileBytes += entry.size }
            onEntry(dirfd, name, entry)
            return allocated <= stopAbove
        }
        return (allocated, fileBytes)
    }

    /// One directory on the way down: the names left to visit and its identity, to check on the way back up.
    struct Level {
        var names: [Name]
        var next = 0
        var device: dev_t
        var inode: ino_t

        init(names: [Name], device: dev_t, inode: ino_t) {
            self.names = names
            self.device = device
            self.inode = inode
        }
    }

    /// The entries of an open directory, without `.` and `..`; `fd` stays open.
    public static func names(in fd: Int32) -> [Name] {
        let copy = dup(fd)
        guard copy >= 0 else { return [] }
        guard let dir = fdopendir(copy) else {
            close(copy)
            return []
        }
        defer { closedir(dir) }
        var names: [Name] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Name(raw.bindMemory(to: CChar.self).prefix { $0 != 0 }) + [0] }
            if name != [46, 0] && name != [46, 46, 0] { names.append(name) }
        }
        return names
    }
}
