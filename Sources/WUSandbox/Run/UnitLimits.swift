/// A unit's effective limits: its request's, bounded by its profile's maximum.
struct UnitLimits: Sendable {
    let memory: Int64
    let millicpus: Int
    let pids: Int
    let disk: Int64
    let wallMs: Int64

    init(profile: SandboxProfile, request: SandboxRequest) throws(SandboxError) {
        let p = profile.limits
        let l = request.limits
        func check<T: Comparable>(_ name: String, _ v: T?, _ max: T) throws(SandboxError) -> T {
            guard let v else { return max }
            guard v <= max else { throw SandboxError(.invalidLimits, "\(name) \(v) is above the '\(profile.name)' profile's maximum \(max)") }
            return v
        }
        memory = try check("memory", l.memoryBytes, p.maxMemoryBytes)
        millicpus = try check("millicpus", l.millicpus, p.maxMillicpus)
        pids = try check("pids", l.pids, p.maxPids)
        disk = try check("disk", l.diskBytes, p.maxDiskBytes)
        wallMs = try check("wall time (ms)", l.wallTimeMs, p.maxWallTimeMs)
        guard memory >= 1 << 20, millicpus >= 10, pids >= 1, disk >= 0, wallMs > 0 else {
            throw SandboxError(.invalidLimits, "limits too small: memory ≥ 1M, cpus ≥ 0.01, pids ≥ 1, wall time > 0")
        }
    }

    /// What the unit's cgroup enforces.
    var cgroup: Cgroup.Limits { Cgroup.Limits(memoryBytes: memory, millicpus: millicpus, pids: pids) }
}
