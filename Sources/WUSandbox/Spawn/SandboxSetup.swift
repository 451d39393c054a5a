import CSandbox
import Glibc
import Synchronization

/// The part of a spawn's config that does not depend on the unit (namespaces, id maps, cgroups,
/// the root and its mounts, hostname, loopback), and the call that starts a sandbox with it.
struct SandboxSetup {
    private let rootDir: String
    private let hostname: String
    private let identity: UnitIdentity
    private let parentProcs: [String]
    /// v1: the `tasks` files the child moves itself through, open until the spawn returns.
    private(set) var selfFDs: [Int32] = []
    private let strings: CStrings

    static let namespaces = Int32(WU_NS_USER | WU_NS_PID | WU_NS_MOUNT | WU_NS_NET | WU_NS_UTS | WU_NS_IPC | WU_NS_CGROUP)
    static let capLastCap = Int32(FileSystem.readText("/proc/sys/kernel/cap_last_cap")?.trimmingWhitespace() ?? "") ?? 63

    private init(_ profile: SandboxProfile, identity: UnitIdentity, group: Cgroup?, strings: CStrings) throws(SandboxError) {
        self.rootDir = try MountPlan.rootDirectory()
        self.hostname = profile.hostname
        self.identity = identity
        self.strings = strings
        // v1: the child moves itself through pre-opened `tasks` files; v2: the parent writes cgroup.procs.
        self.parentProcs = (group?.hierarchy.version == .v2) ? group?.procsFiles ?? [] : []
        for path in group?.tasksFiles ?? [] {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                closeDescriptors()
                throw SandboxError(.cgroup, "open \(path)", errno: errno)
            }
            selfFDs.append(fd)
        }
    }

    private mutating func closeDescriptors() {
        for fd in selfFDs { close(fd) }
        selfFDs = []
    }

    /// Sets the fields of `config` that wu_sandbox_configure reads (the unit's ids and everything
    /// after them are wu_sandbox_start's); `mounts` (and the descriptors) must outlive the call.
    private func fill(_ config: inout wu_spawn_config, mounts: UnsafeMutableBufferPointer<wu_mount>) {
        config.root_dir = strings.make(rootDir)
        config.root_options = strings.make("size=1m,nr_inodes=4096,mode=0755")
        config.mounts = UnsafePointer(mounts.baseAddress)
        config.mount_count = Int32(mounts.count)
        config.hostname = strings.make(hostname)
        config.namespaces = Self.namespaces
        config.uid_map = strings.make(identity.uidMap)
        config.gid_map = strings.make(identity.gidMap)
        config.setgroups = strings.make(identity.rootless ? "deny" : "allow")
        config.setup_uid = 0
        config.setup_gid = 0
        config.cgroup_procs = parentProcs.isEmpty ? nil : UnsafePointer(strings.array(parentProcs))
        config.cgroup_count = Int32(parentProcs.count)
        config.loopback_up = 1
        config.cgroup_self_fds = strings.integers(selfFDs)
        config.cgroup_self_fd_count = Int32(selfFDs.count)
    }

    /// Clones a sandbox's init, which then does the profile's part of the setup (with `mounts`)
    /// and waits for its unit (wu_sandbox_start).
    static func prepare(_ profile: SandboxProfile, mounts plan: [PlannedMount], identity: UnitIdentity, group: Cgroup?) throws(SandboxError) -> wu_prepared {
        var sandboxInit = try clone()
        try configure(&sandboxInit, profile, mounts: plan, identity: identity, group: group)
        return sandboxInit
    }

    /// Clones a sandbox's init into ``namespaces``; it makes its network namespace (the costliest
    /// part of a spawn) while the caller goes on, then waits for ``configure(_:_:mounts:identity:group:)``.
    static func clone() throws(SandboxError) -> wu_prepared {
        var sandboxInit = wu_prepared()
        var result = wu_spawn_result()
        guard wu_sandbox_clone(namespaces, &sandboxInit, &result) == 0 else {
            throw SandboxError(.spawn, "could not start a sandbox", stage: CSandboxBridge.stageName(result.stage), errno: result.error)
        }
        return sandboxInit
    }

    /// Hands a cloned init the profile's part of the setup (with `mounts`); the init does it and
    /// then waits for its unit (wu_sandbox_start). On failure the init is discarded.
    static func configure(_ sandboxInit: inout wu_prepared, _ profile: SandboxProfile, mounts plan: [PlannedMount], identity: UnitIdentity, group: Cgroup?) throws(SandboxError) {
        let strings = CStrings()
        defer { strings.free() }
        var setup: SandboxSetup
        do { setup = try SandboxSetup(profile, identity: identity, group: group, strings: strings) } catch {
            wu_sandbox_discard(&sandboxInit)
            throw error
        }
        defer { setup.closeDescriptors() }  // the init has its own copies
        var mounts = strings.mounts(plan)
        var result = wu_spawn_result()
        let rc = mounts.withUnsafeMutableBufferPointer { buffer in
            var config = emptyConfig(strings)
            setup.fill(&config, mounts: buffer)
            return wu_sandbox_configure(&sandboxInit, &config, &result)
        }
        guard rc == 0 else {
            throw SandboxError(.spawn, "could not start a sandbox", stage: CSandboxBridge.stageName(result.stage), errno: result.error)
        }
    }

    /// A config with nothing set: empty strings where C wants one, no descriptors.
    static func emptyConfig(_ strings: CStrings) -> wu_spawn_config {
        let none = UnsafePointer(strings.array([]))
        let empty = strings.make("")
        return wu_spawn_config(
            argv: none, envp: none, cwd: empty, root_dir: empty, root_options: empty, mounts: nil, mount_count: 0,
            hostname: empty, rlimits: nil, rlimit_count: 0, namespaces: 0, uid_map: empty, gid_map: empty, setgroups: empty,
            uid: 0, gid: 0, setup_uid: 0, setup_gid: 0, cgroup_procs: nil, cgroup_count: 0, stdin_fd: -1, stdout_fd: -1,
            stderr_fd: -1, seccomp_filter: nil, seccomp_filter_len: 0, cap_last_cap: 63, loopback_up: 0, cgroup_self_fds: nil,
            cgroup_self_fd_count: 0, seccomp_listener: 0, late_mounts: nil, late_mount_count: 0
        )
    }
}
