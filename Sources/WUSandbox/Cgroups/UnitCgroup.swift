import Glibc

/// The cgroup one unit runs in, under its volunteer cap, from claim (before the clone) to release
/// (after the init is reaped and the group is verified empty).
///
/// **v1: a pool of reused slots.** On cgroup v1 a unit's group is a directory in five hierarchies
/// (memory, cpu, cpuacct, pids, freezer); making and removing ten directories, with their control
/// files, per unit costs more than the rest of the cgroup work. So a unit takes a slot,
/// `<cap>/slot-<i>`, that earlier units (of this process or another) left behind:
///
/// - **Claimed with a lock, never shared.** The slot's directory in the memory hierarchy is
///   opened and `flock(LOCK_EX | LOCK_NB)`ed; a slot held by a unit of any process is skipped. The
///   lock belongs to the open file description, so if the claiming process dies it goes with it
///   (the unit's init holds no copy: it closes every descriptor it inherits; a unit still dying
///   then is found by the next claimant, which empties the slot first).
/// - **Empty before use, empty after.** A claimed slot with a process still in any hierarchy
///   (its last holder was killed before it could clean up) is frozen and emptied first, as at
///   release; a slot that cannot be emptied is skipped. Release kills whatever is left and checks
///   every hierarchy is empty before the lock is dropped: nothing a unit started survives it, as
///   with a removed group.
/// - **Limits written before every unit,** from scratch (memory, memory+swap, CPU quota, pids),
///   before the clone, so no unit code ever runs under a previous unit's limits.
/// - **Counters per unit:** `memory.max_usage_in_bytes` and `cpuacct.usage` are reset at claim
///   (page cache a previous unit left charged is reclaimed first, so the new peak is the unit's
///   own); the OOM-kill count is a delta. `pids.peak` cannot be reset: every unit peaks at two
///   tasks at least (init + command), so a slot whose peak is still 2 reports the next unit's
///   exactly, and a slot that ever peaked higher gets a fresh pids directory at its next claim.
///
/// **v2:** a fresh `unit-<pid>-<n>` group per unit, removed at release (one directory there, and
/// `cgroup.kill`).
struct UnitCgroup {
    let group: Cgroup
    /// The slot's lock (v1 pool), or -1 (v2: a group of its own).
    private let lockFD: Int32
    private let oomKillsBefore: Int64

    /// How many slots a cap may grow to (concurrent units of all processes under it).
    static let maxSlots = 4096
    /// The lowest peak a unit reaches: its init and its command.
    static let minimumPeakPids: Int64 = 2

    private init(group: Cgroup, lockFD: Int32, oomKillsBefore: Int64) {
        self.group = group
        self.lockFD = lockFD
        self.oomKillsBefore = oomKillsBefore
    }

    /// Takes a group under `cap` with `limits` applied, ready for the unit's init to join.
    /// - Parameter name: The v2 group's name.
    static func claim(under cap: Cgroup, name: String, limits: Cgroup.Limits) throws(SandboxError) -> UnitCgroup {
        let hierarchy = cap.hierarchy
        guard hierarchy.version == .v1, hierarchy.v1Mounts["memory"] != nil else {
            let group = try Cgroup.create(hierarchy, relativePath: cap.relativePath + "/" + name, limits: limits)
            return UnitCgroup(group: group, lockFD: -1, oomKillsBefore: 0)
        }
        for i in 0..<maxSlots {
            let group = Cgroup(hierarchy: hierarchy, relativePath: cap.relativePath + "/slot-\(i)")
            let lockPath = group.dir("memory")!
            var fd = open(lockPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd < 0 && errno == ENOENT {
                for d in group.directories where mkdir(d, 0o755) != 0 && errno != EEXIST {
                    throw SandboxError(.cgroup, "mkdir \(d)", errno: errno)
                }
                fd = open(lockPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            }
            guard fd >= 0 else { throw SandboxError(.cgroup, "open \(lockPath)", errno: errno) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                continue  // another unit's
            }
            do {
                guard let oomKills = try prepare(group) else {
                    Self.unlock(fd)
                    continue
                }
                try group.apply(limits, reused: true)
                return UnitCgroup(group: group, lockFD: fd, oomKillsBefore: oomKills)
            } catch {
                Self.unlock(fd)
                throw error
            }
        }
        throw SandboxError(.cgroup, "all \(maxSlots) unit cgroups under \(cap.relativePath) are in use")
    }

    /// Makes a claimed slot ready: complete, empty, thawed, counters reset. Returns the OOM-kill
    /// count to subtract, or nil when the slot cannot be used (a process in it would not die).
    private static func prepare(_ group: Cgroup) throws(SandboxError) -> Int64? {
        switch group.isEmpty() {
        case true?: break
        case false?: if !group.killAll(timeoutMs: 1000) { return nil }
        case nil:
            // A holder killed while creating the slot left some hierarchies without it.
            for d in group.directories where mkdir(d, 0o755) != 0 && errno != EEXIST {
                throw SandboxError(.cgroup, "mkdir \(d)", errno: errno)
            }
            if group.isEmpty() != true && !group.killAll(timeoutMs: 1000) { return nil }
        }
        guard let memory = group.dir("memory"), let pids = group.dir("pids"), let freezer = group.dir("freezer"),
            let cpuacct = group.dir("cpuacct")
        else { throw SandboxError(.cgroup, "no v1 controller for \(group.relativePath)") }
        // A holder killed between FROZEN and THAWED leaves the slot frozen.
        if FileSystem.readControl(freezer + "/freezer.state")?.hasPrefix("THAWED") != true {
            try FileSystem.write("THAWED", to: freezer + "/freezer.state")
        }
        // pids.peak only grows: a slot that peaked above the minimum gets a new pids directory.
        if let peak = Cgroup.integer(FileSystem.readControl(pids + "/pids.peak")), peak > minimumPeakPids {
            // EBUSY: a killed process not yet reaped by its parent is still charged here; use another slot.
            guard rmdir(pids) == 0 else { return nil }
            guard mkdir(pids, 0o755) == 0 else { throw SandboxError(.cgroup, "mkdir \(pids)", errno: errno) }
        }
        // Page cache the last unit left (files it wrote to /out) stays charged to the group; reclaim
        // it so the new unit's peak and limit are its own.
        if let used = Cgroup.integer(FileSystem.readControl(memory + "/memory.usage_in_bytes")), used > 1 << 20 {
            try? FileSystem.write("0", to: memory + "/memory.force_empty")
        }
        try FileSystem.write("0", to: memory + "/memory.max_usage_in_bytes")
        try FileSystem.write("0", to: cpuacct + "/cpuacct.usage")
        return Cgroup.keyed(FileSystem.readControl(memory + "/memory.oom_control"), "oom_kill") ?? 0
    }

    /// What the kernel counted for this unit.
    func usage() -> Cgroup.Usage {
        var u = group.usage()
        u.oomKills -= oomKillsBefore
        return u
    }

    /// Kills whatever is left in the group, and removes it (v2) or unlocks the slot (v1) once
    /// every hierarchy is empty. A slot that could not be emptied stays locked until this process
    /// exits (the next claimant empties it or skips it).
    func release() {
        let empty = group.killAll()
        if lockFD < 0 {
            group.remove()
        } else if empty {
            Self.unlock(lockFD)
        }
    }

    private static func unlock(_ fd: Int32) {
        // LOCK_UN first, so that no other copy of the descriptor could keep the slot.
        flock(fd, LOCK_UN)
        close(fd)
    }
}
