import CSandbox
import Glibc
import Synchronization

/// Sandboxes set up ahead of their units, so that a unit waits only for its own part of the setup.
///
/// The part of a sandbox that is the same for every unit of a profile (namespaces, id maps, the
/// unit's cgroup, the root with the profile's binds, /proc, /dev, pivot_root, hostname, loopback)
/// is made on a background thread while earlier units run; its init then waits. The unit's part
/// (its limits, /tmp, its directories, bound in the host's mount namespace and attached inside,
/// rlimits, the privilege drop, the seccomp filter, execve) is done when it starts. Each sandbox
/// serves one unit, never two, and is in its unit's cgroup from the start, so what its setup costs
/// is charged to that unit as it is without preparing.
///
/// Root only: binding the unit's directories from outside needs CAP_SYS_ADMIN in the host's mount
/// namespace.
final class PreparedSandboxes: Sendable {
    /// One prepared sandbox, handed to exactly one unit.
    struct Prepared: @unchecked Sendable {  // wu_prepared holds the address of a region shared with its init
        var sandboxInit: wu_prepared
        let identity: UnitIdentity
        let unitGroup: UnitCgroup?

        /// Kills its init and frees its cgroup: for one no unit will take.
        mutating func discard() {
            wu_sandbox_discard(&sandboxInit)
            unitGroup?.release()
        }
    }

    private struct State: @unchecked Sendable {  // Prepared values, under the mutex
        var idle: [Prepared] = []
        var closed = false
        /// Being prepared right now (its cgroup is claimed under the cap).
        var preparing = false
    }

    private let state = Mutex(State())
    private let profile: SandboxProfile
    private let cap: VolunteerCap
    /// How many sandboxes are kept ready.
    let depth: Int

    init(profile: SandboxProfile, cap: VolunteerCap, depth: Int) {
        self.profile = profile
        self.cap = cap
        self.depth = max(1, depth)
        SandboxPreparer.shared.refill(self)
    }

    /// A prepared sandbox if one is ready. One whose init died while it waited (killed from
    /// outside, say) is discarded, not handed out.
    func take() -> Prepared? {
        while var p = state.withLock({ $0.idle.isEmpty ? nil : $0.idle.removeFirst() }) {
            var watch = [
                pollfd(fd: p.sandboxInit.pidfd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: p.sandboxInit.error_fd, events: Int16(POLLIN), revents: 0),
            ]
            if poll(&watch, 2, 0) == 0 { return p }
            p.discard()
        }
        return nil
    }

    /// Prepares the next in the background. Called when a unit has ended, not when it takes its
    /// sandbox: preparing then would compete with the unit's own start for the CPU.
    func replenish() {
        SandboxPreparer.shared.refill(self)
    }

    /// How many are ready now.
    var readyCount: Int { state.withLock { $0.idle.count } }

    /// The ready ones' inits (host pid) and host base ids, for tests.
    var ready: [(initPID: Int32, hostBase: UInt32)] { state.withLock { $0.idle.map { ($0.sandboxInit.pid, $0.identity.hostBase) } } }

    /// Discards every idle sandbox and prepares no more (before the cap is removed): waits for one
    /// being prepared (at most its setup's 60 s bound), which is then discarded too.
    func close() {
        state.withLock { $0.closed = true }
        while state.withLock({ $0.preparing }) { usleep(1000) }
        let idle = state.withLock { s in
            defer { s.idle = [] }
            return s.idle
        }
        for var p in idle { p.discard() }
    }

    /// On the preparer's thread: prepares until `depth` are ready. A failure ends this round; the
    /// next unit to end asks again. Meanwhile units get sandboxes made at their start, whose
    /// errors say what is wrong.
    fileprivate func fill() {
        while state.withLock({ s in
            s.preparing = !s.closed && s.idle.count < depth
            return s.preparing
        }) {
            guard var p = try? Self.prepare(profile, cap: cap) else {
                state.withLock { $0.preparing = false }
                return
            }
            let kept = state.withLock { s in
                s.preparing = false
                guard !s.closed else { return false }
                s.idle.append(p)
                return true
            }
            if !kept {
                p.discard()
            }
        }
    }

    /// Makes one: claims its cgroup (no limits yet: the unit's come at start) and runs the setup
    /// up to the point where the unit's part begins.
    static func prepare(_ profile: SandboxProfile, cap: VolunteerCap) throws(SandboxError) -> Prepared {
        let identity = UnitIdentity.next()
        var unitGroup: UnitCgroup? = nil
        if let capGroup = cap.cgroup {
            unitGroup = try UnitCgroup.claim(under: capGroup, name: "unit-\(getpid())-\(identity.number)", limits: .init())
        }
        do throws(SandboxError) {
            var sandboxInit = try SandboxSetup.prepare(
                profile,
                mounts: try MountPlan.profileMounts(profile, unitUID: identity.unitUID) + MountPlan.unitMountPoints,
                identity: identity,
                group: unitGroup?.group
            )
            var result = wu_spawn_result()
            guard wu_sandbox_await_ready(&sandboxInit, &result) == 0 else {
                throw SandboxError(.spawn, "could not prepare a sandbox", stage: CSandboxBridge.stageName(result.stage), errno: result.error)
            }
            return Prepared(sandboxInit: sandboxInit, identity: identity, unitGroup: unitGroup)
        } catch {
            unitGroup?.release()
            throw error
        }
    }
}

/// The one thread that prepares sandboxes, for every pool. A prepared sandbox's init dies with the
/// thread that cloned it (PR_SET_PDEATHSIG: nothing is left behind when the runner dies), so that
/// thread must outlive every unit started in it: it lives as long as the process.
final class SandboxPreparer: Sendable {
    static let shared = SandboxPreparer()

    private let waiting = Mutex<[PreparedSandboxes]>([])
    private let wake: Int32

    private init() {
        wake = wu_eventfd()
        DedicatedThread.start { [self] in run() }
    }

    private func run() -> Never {
        while true {
            var fd = pollfd(fd: wake, events: Int16(POLLIN), revents: 0)
            _ = poll(&fd, 1, -1)
            var count: UInt64 = 0
            _ = read(wake, &count, 8)
            while let pool = waiting.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { pool.fill() }
        }
    }

    /// Asks for `pool` to be filled up.
    func refill(_ pool: PreparedSandboxes) {
        waiting.withLock { list in
            if !list.contains(where: { $0 === pool }) { list.append(pool) }
        }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }
}
