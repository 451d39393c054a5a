import Glibc
import WUCore

/// Watches the unit's `/out` on the host and says when it passes its `disk` limit.
///
/// What is counted is always a walk of the whole tree relative to directory descriptors
/// (``DirectoryTree``), so a tree deeper than `PATH_MAX` is counted like any other: no path is
/// ever handed to the kernel. inotify only says *when* to walk: an event starts a walk at once
/// unless walking would take more than a tenth of the time (a walk waits nine times its own
/// duration after the last one), so a small `/out` is re-measured within a millisecond of a
/// write, and a huge one costs the runner at most a tenth of a core, however fast the unit makes
/// entries. A walk stops as soon as the limit is passed: it never visits more than the limit's
/// worth of entries (each is charged at least 4 KiB). At most ``maxWatches`` directories are
/// watched (inotify watches are the volunteer's, shared with everything root runs); anything
/// below the others is seen by the walk that runs at least every half second anyway.
struct DiskWatch {
    let root: String
    let limit: Int64
    private(set) var fd: Int32 = -1
    private var watches: Set<Int32> = []
    private(set) var total: Int64 = 0
    /// Something changed since the last walk.
    private var pending = false
    private var nextWalk: Int64 = 0
    private var nextPeriodicWalk: Int64 = 0

    /// The most inotify watches one unit takes.
    static let maxWatches = 256

    init(root: String, limit: Int64) {
        self.root = root
        self.limit = limit
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd >= 0 { addWatch(path: root) }
        measure()
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
    }

    var exceeded: Bool { total > limit }

    /// How long until a walk is due for a change already seen (for the caller's poll timeout).
    var msUntilWalk: Int32? {
        guard pending else { return nil }
        return Int32(clamping: max(0, (nextWalk - Monotonic.nowNs()) / 1_000_000) + 1)
    }

    private static let mask: UInt32 = UInt32(IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE)

    private mutating func addWatch(path: String) {
        let wd = inotify_add_watch(fd, path, DiskWatch.mask | UInt32(IN_ONLYDIR))
        if wd >= 0 { watches.insert(wd) }
    }

    /// Walks the whole tree and watches the directories it meets, up to ``maxWatches``.
    mutating func measure() {
        let start = Monotonic.nowNs()
        let watching = fd >= 0 && watches.count < DiskWatch.maxWatches
        var newDirectories: [Int32] = []
        total = DirectoryTree.usage(of: root, stopAbove: limit) { dirfd, name, entry in
            guard watching, entry.isDirectory, newDirectories.count < DiskWatch.maxWatches else { return }
            // inotify takes a path: the directory's descriptor as /proc/self/fd/N is one at any depth.
            let dir = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if dir >= 0 { newDirectories.append(dir) }
        }.allocated
        for dir in newDirectories {
            if watches.count < DiskWatch.maxWatches { addWatch(path: "/proc/self/fd/\(dir)") }
            Glibc.close(dir)
        }
        let end = Monotonic.nowNs()
        pending = false
        nextWalk = end + 9 * (end - start)
        nextPeriodicWalk = end + max(500_000_000, 9 * (end - start))
    }

    /// Reads pending inotify events and walks when one is due (call when `fd` is readable, or on a tick).
    mutating func update() {
        if fd >= 0 { drainEvents() }
        let now = Monotonic.nowNs()
        if (pending && now >= nextWalk) || now >= nextPeriodicWalk { measure() }
    }

    /// Notes that something changed; forgets watches the kernel dropped (their directory is gone).
    private mutating func drainEvents() {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            pending = true
            var offset = 0
            buffer.withUnsafeBytes { raw in
                while offset + MemoryLayout<inotify_event>.size <= n {
                    let base = raw.baseAddress! + offset
                    let wd = base.loadUnaligned(as: Int32.self)
                    let mask = base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
                    let len = Int(base.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
                    if mask & UInt32(IN_IGNORED) != 0 { watches.remove(wd) }
                    offset += MemoryLayout<inotify_event>.size + len
                }
            }
        }
    }
}
