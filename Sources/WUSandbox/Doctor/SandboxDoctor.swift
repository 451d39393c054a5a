import CSandbox
import Glibc
import WUProtocol

/// What this machine can enforce, check by check (`wu doctor`).
public enum SandboxDoctor {
    public struct Check: Sendable {
        public var name: String
        public var ok: Bool
        public var detail: String
    }

    public struct Report: Sendable {
        public var checks: [Check]
        /// Whether `wu run` (sandbox with limits) works here.
        public var canRun: Bool
        /// Whether it works only with `--no-limits`.
        public var canRunWithoutLimits: Bool
    }

    /// Runs every check; the last one starts `/bin/true` in the `default` profile for real.
    public static func run() async -> Report {
        var checks: [Check] = []
        let root = geteuid() == 0
        checks.append(Check(name: "privileges", ok: true, detail: root ? "running as root" : "running as uid \(geteuid()) (rootless)"))

        let maxNS = FileSystem.readText("/proc/sys/user/max_user_namespaces")?.trimmingWhitespace() ?? "?"
        let unpriv = FileSystem.readText("/proc/sys/kernel/unprivileged_userns_clone")?.trimmingWhitespace()
        let apparmor = FileSystem.readText("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")?.trimmingWhitespace()
        var userNSDetail = "max_user_namespaces=\(maxNS)"
        if let unpriv { userNSDetail += ", unprivileged_userns_clone=\(unpriv)" }
        if let apparmor { userNSDetail += ", apparmor_restrict_unprivileged_userns=\(apparmor)" }
        let userNSOK = maxNS != "0" && (root || (unpriv ?? "1") == "1") && (root || (apparmor ?? "0") == "0")
        checks.append(Check(name: "user namespaces", ok: userNSOK, detail: userNSDetail))

        let sc = wu_seccomp_kernel_support()
        checks.append(Check(name: "seccomp filters", ok: sc & 1 != 0, detail: sc & 1 != 0 ? "supported" : "not supported by this kernel"))
        checks.append(
            Check(
                name: "seccomp user notification",
                ok: sc & 2 != 0,
                detail: sc & 2 == 0
                    ? "not available (not required): units run without the denied-syscall report"
                    : "supported: every unit reports the syscalls its profile denied"
            )
        )

        var cgroupsOK = false
        if let h = CgroupHierarchy.detect() {
            switch h.version {
            case .v1:
                let emptyUnified =
                    h.unifiedRoot.map {
                        " (cgroup2 at \($0) has \(h.v2Controllers.isEmpty ? "no controllers" : h.v2Controllers.sorted().joined(separator: " ")))"
                    } ?? ""
                checks.append(Check(name: "cgroup version", ok: true, detail: "v1" + emptyUnified))
                for c in CgroupHierarchy.v1Controllers {
                    if let m = h.v1Mounts[c] {
                        let writable = access(m, W_OK) == 0
                        checks.append(
                            Check(name: "cgroup v1 \(c)", ok: writable, detail: writable ? m : "\(m) is not writable by this user (no delegation)")
                        )
                    } else {
                        checks.append(Check(name: "cgroup v1 \(c)", ok: false, detail: "no hierarchy has the \(c) controller mounted"))
                    }
                }
                cgroupsOK = h.missingControllers.isEmpty && root
            case .v2:
                let root2 = h.unifiedRoot ?? "?"
                checks.append(Check(name: "cgroup version", ok: true, detail: "v2 at \(root2)"))
                for c in ["memory", "cpu", "pids", "io"] {
                    let has = h.v2Controllers.contains(c)
                    checks.append(
                        Check(name: "cgroup v2 \(c)", ok: has || c == "io", detail: has ? "available" : "not enabled in \(root2)/cgroup.controllers")
                    )
                }
                let writable = access(root2, W_OK) == 0
                if !writable {
                    checks.append(
                        Check(
                            name: "cgroup delegation",
                            ok: false,
                            detail: "\(root2) is not writable by uid \(geteuid()); run as root or delegate a subtree"
                        )
                    )
                }
                cgroupsOK = h.missingControllers.isEmpty && writable
            }
        } else {
            checks.append(Check(name: "cgroup version", ok: false, detail: "no cgroup file system mounted"))
        }

        // The real thing: start /bin/true in the default profile without limits.
        var spawnOK = false
        do {
            let sandbox = try Sandbox(profile: try SandboxProfile.load(named: "default"), cap: VolunteerCap.unlimited())
            let result = try await sandbox.run(SandboxRequest(command: ["/bin/true"], limits: .init(wallTimeMs: 10_000)))
            spawnOK = result.usage.exitCode == 0
            checks.append(
                Check(
                    name: "sandbox spawn",
                    ok: spawnOK,
                    detail: spawnOK
                        ? "/bin/true ran in all namespaces with the default profile"
                        : "exit \(result.usage.exitCode.map(String.init) ?? "signal \(result.usage.signal ?? 0)")"
                )
            )
        } catch {
            checks.append(Check(name: "sandbox spawn", ok: false, detail: "\(error)"))
        }
        return Report(checks: checks, canRun: spawnOK && cgroupsOK, canRunWithoutLimits: spawnOK)
    }
}
