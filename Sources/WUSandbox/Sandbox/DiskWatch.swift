import Glibc

/// Watches the unit's `/out` on the host and says when it passes its `disk` limit.
///
/// inotify reports every write as it happens, and only the file written is re-measured, so the
/// overshoot is what the unit writes between two wake-ups (about a millisecond), not a polling
/// interval's worth. A full rescan every half second covers what inotify cannot (queue overflow,
/// a directory created before its watch was added).
struct DiskWatch {
    let root: String
    let limit: Int64
    private(set) var fd: Int32 = -1
    private var watches: [Int32: String] = [:]
    private var sizes: [String: Int64] = [:]
    private(set) var total: Int64 = 0
    private var lastFullScan: Int64 = 0
    private var nextFullScan: Int64 = 0

    /// What one entry costs at least: an inode and a directory entry are disk too, so a million
    /// empty files pass the limit like a big file would.
    static func charge(_ st: stat) -> Int64 { max(Int64(st.st_blocks) * 512, 4096) }

    init(root: String, limit: Int64) {
        self.root = root
        self.limit = limit
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd >= 0 { addTree(root) }
        fullScan()
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
    }

    var exceeded: Bool { total > limit }

    private static let mask: UInt32 = UInt32(IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE)

    private mutating func addTree(_ dir: String) {
        guard fd >= 0 else { return }
        let wd = inotify_add_watch(fd, dir, DiskWatch.mask | UInt32(IN_ONLYDIR | IN_DONT_FOLLOW))
        if wd >= 0 { watches[wd] = dir }
        for name in FileSystem.list(dir) {
            let p = dir + "/" + name
            var st = stat()
            if lstat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { addTree(p) }
        }
    }

    /// Re-measures everything (cheap for small trees; bounded to one walk per half second).
    mutating func fullScan() {
        lastFullScan = Monotonic.nowNs()
        sizes = [:]
        total = 0
        var stack = [root]
        while let p = stack.popLast(), sizes.count < 1_000_000 {
            var st = stat()
            guard lstat(p, &st) == 0 else { continue }
            let bytes = DiskWatch.charge(st)
            sizes[p] = bytes
            total += bytes
            if (st.st_mode & S_IFMT) == S_IFDIR { for name in FileSystem.list(p) { stack.append(p + "/" + name) } }
        }
        // A unit that makes the walk slow only makes it rarer: at most a tenth of the time walking.
        let now = Monotonic.nowNs()
        nextFullScan = now + max(500_000_000, 10 * (now - lastFullScan))
    }

    private mutating func remeasure(_ path: String) {
        var st = stat()
        let now: Int64 = lstat(path, &st) == 0 ? DiskWatch.charge(st) : 0
        let before = sizes[path] ?? 0
        sizes[path] = now
        total += now - before
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, !watches.values.contains(path) { addTree(path) }
    }

    /// Handles pending inotify events (call when `fd` is readable, or on a tick).
    mutating func update() {
        if Monotonic.nowNs() >= nextFullScan {
            fullScan()
        }
        guard fd >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var offset = 0
            var overflow = false
            var touched: Set<String> = []
            buffer.withUnsafeBytes { raw in
                while offset + MemoryLayout<inotify_event>.size <= n {
                    let base = raw.baseAddress! + offset
                    let wd = base.loadUnaligned(as: Int32.self)
                    let mask = base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
                    let len = Int(base.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
                    if mask & UInt32(IN_Q_OVERFLOW) != 0 { overflow = true }
                    if len > 0, let dir = watches[wd] {
                        let nameBytes = UnsafeRawBufferPointer(start: base + 16, count: len).prefix(while: { $0 != 0 })
                        touched.insert(dir + "/" + String(decoding: nameBytes, as: UTF8.self))
                    }
                    offset += 16 + len
                }
            }
            if overflow {
                fullScan()
            } else {
                for p in touched { remeasure(p) }
            }
        }
    }
}
