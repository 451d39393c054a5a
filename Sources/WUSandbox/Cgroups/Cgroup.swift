import Glibc

/// One cgroup (a directory in each v1 hierarchy, or one directory in v2) that the sandbox
/// created and will remove: a volunteer cap or a unit's group nested under it.
///
/// The parent writes these files directly (docs/sandbox.md); CSandbox writes the child's pid into
/// ``procsFiles`` before the child runs a single instruction of the unit.
public struct Cgroup: Sendable {
    public let hierarchy: CgroupHierarchy
    /// Path relative to each hierarchy's root, e.g. `wu/cap-default/unit-42`.
    public let relativePath: String

    /// Resource limits of a cgroup; nil fields are left unlimited.
    public struct Limits: Sendable, Equatable {
        public var memoryBytes: Int64?
        public var millicpus: Int?
        public var pids: Int?
        /// Relative CPU weight under contention, 1…10000 (v2 `cpu.weight`, 100 = default; v1
        /// `cpu.shares` = weight × 1024 / 100). The quota caps; the weight only shares.
        public var cpuWeight: Int?
        /// v2 only: `io.max` lines (`MAJ:MIN rbps=… wbps=…`), written as given.
        public var ioMax: [String]

        public init(memoryBytes: Int64? = nil, millicpus: Int? = nil, pids: Int? = nil, cpuWeight: Int? = nil, ioMax: [String] = []) {
            self.cpuWeight = cpuWeight
            self.memoryBytes = memoryBytes
            self.millicpus = millicpus
            self.pids = pids
            self.ioMax = ioMax
        }
    }

    /// What the kernel counted for this cgroup.
    public struct Usage: Sendable, Equatable {
        public var cpuUserMs: Int64 = 0
        public var cpuSystemMs: Int64 = 0
        public var peakMemoryBytes: Int64 = 0
        public var peakPids: Int64?
        /// Read only where the kernel has no `pids.peak` (the sampled fallback for the peak).
        public var currentPids: Int64 = 0
        public var oomKills: Int64 = 0
    }

    /// The directories of this cgroup, one per hierarchy in use (deduplicated).
    public var directories: [String] {
        switch hierarchy.version {
        case .v2:
            return [hierarchy.unifiedRoot! + "/" + relativePath]
        case .v1:
            var seen: [String] = []
            for c in CgroupHierarchy.v1Controllers {
                if let m = hierarchy.v1Mounts[c] {
                    let d = m + "/" + relativePath
                    if !seen.contains(d) { seen.append(d) }
                }
            }
            return seen
        }
    }

    /// The `cgroup.procs` files a new process must be written into.
    public var procsFiles: [String] { directories.map { $0 + "/cgroup.procs" } }

    /// v1: the `tasks` files a single-threaded process can move itself into (see CSandbox).
    public var tasksFiles: [String] { hierarchy.version == .v1 ? directories.map { $0 + "/tasks" } : [] }

    func dir(_ controller: String) -> String? {
        switch hierarchy.version {
        case .v2: hierarchy.unifiedRoot.map { $0 + "/" + relativePath }
        case .v1: hierarchy.v1Mounts[controller].map { $0 + "/" + relativePath }
        }
    }

    /// Creates the cgroup (and any missing parent) and applies `limits`.
    ///
    /// On v2, the parent's `cgroup.subtree_control` gets `+memory +cpu +pids (+io)` first.
    public static func create(_ hierarchy: CgroupHierarchy, relativePath: String, limits: Limits) throws(SandboxError) -> Cgroup {
        let group = Cgroup(hierarchy: hierarchy, relativePath: relativePath)
        switch hierarchy.version {
        case .v2:
            guard let root = hierarchy.unifiedRoot else { throw SandboxError(.cgroup, "no cgroup2 mount") }
            var current = root
            let enable = ["memory", "cpu", "pids", "io"].filter { hierarchy.v2Controllers.contains($0) }.map { "+" + $0 }.joined(separator: " ")
            for part in relativePath.split(separator: "/") {
                // Delegate the controllers to the next level down (no-internal-process rule: the
                // sandbox's own levels hold no process).
                try? FileSystem.write(enable, to: current + "/cgroup.subtree_control")
                current += "/" + part
                if mkdir(current, 0o755) != 0 && errno != EEXIST { throw SandboxError(.cgroup, "mkdir \(current)", errno: errno) }
            }
        case .v1:
            for d in group.directories {
                do { try FileSystem.makeDirectories(d) } catch { throw SandboxError(.cgroup, "mkdir \(d)", errno: error.errno) }
            }
        }
        do {
            try group.apply(limits)
        } catch {
            group.remove()
            throw error
        }
        return group
    }

    /// Writes `limits`. `reused`: the group held other limits before (a v1 pool slot), so a
    /// memory limit is written in the order the kernel accepts (memory ≤ memory+swap at every step)
    /// and a limit left nil is reset to unlimited.
    func apply(_ limits: Limits, reused: Bool = false) throws(SandboxError) {
        func set(_ controller: String, _ file: String, _ value: String) throws(SandboxError) {
            guard let d = dir(controller) else { throw SandboxError(.cgroup, "no \(controller) controller") }
            do { try FileSystem.write(value, to: d + "/" + file) } catch {
                throw SandboxError(.cgroup, "cannot set \(file)=\(value) in \(d)", errno: error.errno)
            }
        }
        switch hierarchy.version {
        case .v2:
            if let m = limits.memoryBytes {
                try set("memory", "memory.max", String(m))
                // No swap: the memory limit is the whole limit.
                if FileSystem.exists(dir("memory")! + "/memory.swap.max") { try set("memory", "memory.swap.max", "0") }
                try? set("memory", "memory.oom.group", "1")
            }
            if let c = limits.millicpus { try set("cpu", "cpu.max", "\(c * 100) 100000") }
            if let p = limits.pids { try set("pids", "pids.max", String(p)) }
            if let w = limits.cpuWeight { try set("cpu", "cpu.weight", String(min(max(w, 1), 10000))) }
            for line in limits.ioMax { try set("io", "io.max", line) }
        case .v1:
            if limits.memoryBytes != nil || reused {
                let m = limits.memoryBytes.map(String.init) ?? "-1"
                do {
                    try set("memory", "memory.limit_in_bytes", m)
                } catch where reused && error.errno == EINVAL {
                    // Raising above the old memory+swap limit: that one must grow first.
                    try set("memory", "memory.memsw.limit_in_bytes", "-1")
                    try set("memory", "memory.limit_in_bytes", m)
                }
                // No swap: memory+swap gets the same limit (where the kernel accounts swap).
                do { try set("memory", "memory.memsw.limit_in_bytes", m) } catch where error.errno == ENOENT {}
            }
            if limits.millicpus != nil || reused {
                // The period is never changed from its 100 ms default (a reused group keeps it).
                if !reused { try set("cpu", "cpu.cfs_period_us", "100000") }
                try set("cpu", "cpu.cfs_quota_us", limits.millicpus.map { String($0 * 100) } ?? "-1")
            }
            if limits.pids != nil || reused { try set("pids", "pids.max", limits.pids.map(String.init) ?? "max") }
            if let w = limits.cpuWeight {
                try set("cpu", "cpu.shares", String(max(2, min(max(w, 1), 10000) * 1024 / 100)))
            } else if reused {
                try set("cpu", "cpu.shares", "1024")
            }
        }
    }

    /// Reads what the kernel counted.
    public func usage() -> Usage {
        var u = Usage()
        func read(_ controller: String, _ file: String) -> String? {
            dir(controller).flatMap { FileSystem.readControl($0 + "/" + file) }
        }
        let int = Cgroup.integer
        let keyed = Cgroup.keyed
        switch hierarchy.version {
        case .v2:
            let stat = read("cpu", "cpu.stat")
            u.cpuUserMs = (keyed(stat, "user_usec") ?? 0) / 1000
            u.cpuSystemMs = (keyed(stat, "system_usec") ?? 0) / 1000
            u.peakMemoryBytes = int(read("memory", "memory.peak")) ?? 0
            u.oomKills = keyed(read("memory", "memory.events"), "oom_kill") ?? 0
            u.peakPids = int(read("pids", "pids.peak"))
            u.currentPids = int(read("pids", "pids.current")) ?? 0
        case .v1:
            // cpuacct.usage is exact (ns); the user/sys split is tick-sampled, so only its ratio is used.
            let user = int(read("cpuacct", "cpuacct.usage_user")) ?? 0
            let sys = int(read("cpuacct", "cpuacct.usage_sys")) ?? 0
            let total = int(read("cpuacct", "cpuacct.usage")) ?? (user + sys)
            let userShare = user + sys > 0 ? Double(user) / Double(user + sys) : 1
            u.cpuUserMs = Int64(Double(total) * userShare) / 1_000_000
            u.cpuSystemMs = total / 1_000_000 - u.cpuUserMs
            u.peakMemoryBytes = int(read("memory", "memory.max_usage_in_bytes")) ?? 0
            u.oomKills = keyed(read("memory", "memory.oom_control"), "oom_kill") ?? 0
            u.peakPids = int(read("pids", "pids.peak"))
            if u.peakPids == nil { u.currentPids = int(read("pids", "pids.current")) ?? 0 }
        }
        return u
    }

    /// A control file's number (`"42\n"`).
    static func integer(_ text: String?) -> Int64? { text.flatMap { Int64($0.trimmingWhitespace()) } }

    /// The value of `key` in a control file of `key value` lines.
    static func keyed(_ text: String?, _ key: String) -> Int64? {
        guard let text else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == key { return Int64(parts[1]) }
        }
        return nil
    }

    /// The pids in this cgroup (v1: union over the hierarchies).
    public func processes() -> [Int32] {
        var pids = Set<Int32>()
        for d in directories {
            if let text = FileSystem.readText(d + "/cgroup.procs") {
                for line in text.split(separator: "\n") { if let p = Int32(line) { pids.insert(p) } }
            }
        }
        return pids.sorted()
    }

    /// Whether no hierarchy of this cgroup holds a process; nil when a directory is missing.
    func isEmpty() -> Bool? {
        var empty = true
        for d in directories {
            guard let e = FileSystem.isEmpty(d + "/cgroup.procs") else { return nil }
            empty = empty && e
        }
        return empty
    }

    /// Kills every process in the cgroup and waits (up to `timeoutMs`) until it is empty.
    ///
    /// v2: `cgroup.kill`. v1: freeze (so nothing can fork while we read the list), SIGKILL every
    /// pid, thaw; repeat until empty.
    @discardableResult
    public func killAll(timeoutMs: Int = 5000) -> Bool {
        if isEmpty() != false { return true }  // the usual case after a unit: one read a hierarchy
        let deadline = Monotonic.nowMs() + Int64(timeoutMs)
        repeat {
            let pids = processes()
            if pids.isEmpty { return true }
            switch hierarchy.version {
            case .v2:
                if let d = dir("memory"), FileSystem.exists(d + "/cgroup.kill") {
                    try? FileSystem.write("1", to: d + "/cgroup.kill")
                } else {
                    for p in pids { kill(p, SIGKILL) }
                }
            case .v1:
                let freezer = dir("freezer")
                if let freezer { try? FileSystem.write("FROZEN", to: freezer + "/freezer.state") }
                for p in processes() { kill(p, SIGKILL) }
                if let freezer { try? FileSystem.write("THAWED", to: freezer + "/freezer.state") }
            }
            usleep(2000)
        } while Monotonic.nowMs() < deadline
        return processes().isEmpty
    }

    /// Removes the cgroup's directories (they must be empty of processes; children first).
    public func remove() {
        for d in directories.reversed() {
            // A unit's group has no children (the unit cannot reach cgroupfs): one rmdir. Only a
            // cap, or a group a crashed run left, needs the walk.
            if rmdir(d) == 0 || errno == ENOENT { continue }
            for child in FileSystem.list(d) where FileSystem.isDirectory(d + "/" + child) && !child.contains(".") {
                Cgroup.removeDirectoryTree(d + "/" + child)
            }
            rmdir(d)
        }
    }

    static func removeDirectoryTree(_ d: String) {
        for child in FileSystem.list(d) where FileSystem.isDirectory(d + "/" + child) && !child.contains(".") {
            removeDirectoryTree(d + "/" + child)
        }
        rmdir(d)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
