/// Findings about a profile that widen the sandbox, by severity (`wu profile lint`).
///
/// A file is read twice: once as plain JSON, for grants the strict loader refuses outright and
/// that therefore cannot appear in a parsed ``SandboxProfile`` (a writable bind, a host network,
/// kept capabilities, an allowing default action), and once as a profile, for its syscalls,
/// paths, devices, limits and environment. When the loader refuses the file, that is a high
/// finding of its own, and the profile checks run on a copy with the refused parts neutralised,
/// so that one mistake does not hide the others.
public enum ProfileLint {
    public struct Finding: Sendable, Equatable, Encodable, CustomStringConvertible {
        public enum Severity: String, Sendable, Encodable, Comparable {
            case high, medium, low

            var rank: Int { self == .high ? 0 : self == .medium ? 1 : 2 }
            public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
        }

        public var severity: Severity
        /// A stable identifier (`ptrace`, `writable-path`, …).
        public var rule: String
        public var message: String

        public var description: String { "\(severity.rawValue): \(rule): \(message)" }

        public init(severity: Severity, rule: String, message: String) {
            self.severity = severity
            self.rule = rule
            self.message = message
        }
    }

    /// Lints the profile file at `path` (an unreadable file is a high finding).
    public static func lint(file path: String) -> [Finding] {
        guard let bytes = ProfileFiles.read(path) else {
            return [Finding(severity: .high, rule: "unreadable", message: "cannot read the file")]
        }
        return lint(bytes, origin: path)
    }

    /// Lints a profile file's bytes.
    ///
    /// - Parameter origin: The file's path, for the loader's messages.
    /// - Returns: Findings, most severe first.
    public static func lint(_ bytes: [UInt8], origin: String) -> [Finding] {
        var findings: [Finding] = []
        func add(_ s: Finding.Severity, _ rule: String, _ message: String) { findings.append(Finding(severity: s, rule: rule, message: message)) }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            return [Finding(severity: .high, rule: "unreadable", message: "not valid JSON (\(error))")]
        }
        guard case .object(var top) = value else { return [Finding(severity: .high, rule: "unreadable", message: "not a JSON object")] }

        // Grants the loader refuses: found on the raw JSON, then neutralised for the profile checks.
        if case .string(let net)? = top["network"], net != "none" {
            add(.high, "host-network", "network \"\(net)\": the unit would reach beyond its own loopback (the host's network stack)")
            top["network"] = .string("none")
        }
        if case .array(let items)? = top["namespaces"] {
            let listed = Set(items.compactMap { if case .string(let s) = $0 { s } else { nil } })
            for ns in SandboxProfile.Namespace.allCases where !listed.contains(ns.rawValue) {
                switch ns {
                case .net: add(.high, "host-network", "no net namespace: the unit would share the host's network")
                case .user, .mount, .pid: add(.high, "namespace-missing", "no \(ns.rawValue) namespace: the unit would share the host's")
                default: add(.medium, "namespace-missing", "no \(ns.rawValue) namespace: the unit would share the host's")
                }
            }
            top["namespaces"] = .array(SandboxProfile.Namespace.allCases.map { .string($0.rawValue) })
        }
        if case .array(let mounts)? = top["mounts"] {
            var cleaned: [JSONValue] = []
            for (i, m) in mounts.enumerated() {
                guard case .object(var o) = m else {
                    cleaned.append(m)
                    continue
                }
                let source = o["source"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "mounts[\(i)]"
                var writable = false
                for key in ["readonly", "read_only", "readOnly", "ro"] { if case .bool(false)? = o[key] { writable = true } }
                for key in ["writable", "rw", "read_write"] { if case .bool(true)? = o[key] { writable = true } }
                if case .array(let options)? = o["options"], options.contains(.string("rw")) { writable = true }
                if case .string("rw")? = o["mode"] { writable = true }
                if writable { add(.high, "writable-path", "\(source) is bound writable: the unit could change the host's files") }
                o = o.filter { ["source", "target", "optional"].contains($0.key) }
                cleaned.append(.object(o))
            }
            top["mounts"] = .array(cleaned)
        }
        for key in ["capabilities", "caps", "cap_add", "capAdd"] {
            guard let v = top[key] else { continue }
            let kept: Bool
            switch v {
            case .array(let a): kept = !a.isEmpty
            case .object(let o): kept = !o.isEmpty
            case .bool(let b): kept = b
            case .string(let s): kept = !s.isEmpty
            default: kept = false
            }
            if kept { add(.high, "capabilities-kept", "\"\(key)\": \(v.text): the unit would keep capabilities; every set must be empty") }
            top[key] = nil
        }
        if case .object(var seccomp)? = top["seccomp"] {
            if case .string(let action)? = seccomp["defaultAction"], action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG" {
                add(.high, "default-allow", "seccomp defaultAction \(action): every syscall not listed is allowed; a profile must be an allowlist")
                seccomp["defaultAction"] = .string("SCMP_ACT_ERRNO")
                top["seccomp"] = .object(seccomp)
            }
        } else {
            add(.high, "no-seccomp", "no seccomp section: every syscall would be allowed")
        }

        do {
            findings += lint(try SandboxProfile.parse(bytes, origin: origin))
        } catch {
            add(.high, "refused-by-loader", error.message)
            if let cleaned = try? SandboxProfile.parse(Array(JSONValue.object(top).text.utf8), origin: origin) {
                findings += lint(cleaned)
            }
        }
        return sorted(findings)
    }

    /// Lints a parsed profile (the checks that need no raw JSON).
    public static func lint(_ profile: SandboxProfile) -> [Finding] {
        var findings: [Finding] = []
        func add(_ s: Finding.Severity, _ rule: String, _ message: String) { findings.append(Finding(severity: s, rule: rule, message: message)) }
        let g = SeccompGrants(profile.seccomp)
        func allowed(_ names: [String]) -> [String] { names.filter { g.allows($0) } }

        if g.defaultAllows {
            add(.high, "default-allow", "seccomp defaultAction \(profile.seccomp.defaultAction.rawValue): every syscall not listed is allowed")
        }
        for ns in SandboxProfile.Namespace.allCases where !profile.namespaces.contains(ns) {
            add(
                ns == .uts || ns == .ipc || ns == .cgroup ? .medium : .high,
                ns == .net ? "host-network" : "namespace-missing",
                "no \(ns.rawValue) namespace"
            )
        }
        if profile.network != "none" { add(.high, "host-network", "network \"\(profile.network)\"") }

        // The high rules of the review brief.
        let highFamilies: [(rule: String, names: [String], why: String)] = [
            ("ptrace", ["ptrace", "process_vm_readv", "process_vm_writev"], "reads and writes other processes' memory"),
            (
                "mount", ["mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr"],
                "changes the mount table"
            ),
            ("bpf", ["bpf"], "loads programs into the kernel"),
            ("perf-event-open", ["perf_event_open"], "kernel performance events: exploits and side channels"),
            ("keyctl", ["keyctl", "add_key", "request_key"], "kernel keyrings are shared with the host"),
            ("userfaultfd", ["userfaultfd"], "stalls kernel page faults, the usual way to win a kernel race"),
            ("io-uring", ["io_uring_setup", "io_uring_enter", "io_uring_register"], "its operations bypass seccomp"),
            ("clone3", ["clone3"], "its flags sit behind a pointer seccomp cannot read: namespaces cannot be excluded (deny it with ENOSYS)"),
            ("namespace-creation", ["setns"], "joins other namespaces"),
        ]
        for family in highFamilies {
            let names = allowed(family.names)
            if !names.isEmpty { add(.high, family.rule, "\(names.joined(separator: ", ")) allowed: \(family.why)") }
        }
        let newFlags = SyscallCatalog.cloneNamespaceFlags
        if g.grant("unshare").admits(index: 0, set: 0)
            && (0..<64).contains(where: { newFlags & (1 << UInt64($0)) != 0 && g.grant("unshare").admits(index: 0, set: 1 << UInt64($0)) })
        {
            add(.high, "namespace-creation", "unshare allowed with CLONE_NEW* flags: the unit could create namespaces")
        }
        let clone = g.grant("clone")
        if clone.admits(index: 0, set: SyscallCatalog.cloneNewUser, clear: SyscallCatalog.cloneThread) {
            add(
                .high,
                "namespace-creation",
                "clone allowed with CLONE_NEWUSER: the unit could create namespaces (condition: \(g.conditionText("clone")))"
            )
        } else {
            // 0x80 is CLONE_NEWTIME for unshare and clone3 only; in clone's flags it is part of the exit signal.
            let admitted = SyscallCatalog.cloneFlagNames.filter { $0.0 > 0xFF && newFlags & $0.0 != 0 && clone.admits(index: 0, set: $0.0) }.map(\.1)
            if !admitted.isEmpty {
                let requiresThread = !clone.admits(index: 0, set: 0, clear: SyscallCatalog.cloneThread)
                add(
                    .medium,
                    "clone-namespace-flags",
                    "clone's condition (\(g.conditionText("clone"))) lets \(admitted.joined(separator: ", ")) through the filter"
                        + (requiresThread ? " together with CLONE_THREAD" : "")
                        + "; only the kernel refuses them (EINVAL for CLONE_NEWUSER and CLONE_NEWPID with CLONE_THREAD, "
                        + "EPERM for the rest: the unit lacks CAP_SYS_ADMIN)"
                        + (requiresThread ? ". One MASKED_EQ can require CLONE_THREAD and exclude them all: mask 0x7E030080, value 0x10000" : "")
                )
            }
        }
        let ioctl = g.grant("ioctl")
        if ioctl.admits(index: 1, value: SyscallCatalog.tiocsti) {
            add(
                .high,
                "ioctl-tiocsti",
                "ioctl allowed without a TIOCSTI guard (\(g.conditionText("ioctl"))): a unit with a terminal could type into it"
            )
        } else if ioctl.admits(index: 1, set: SyscallCatalog.tiocsti, clear: 0xFFFF_FFFF & ~SyscallCatalog.tiocsti) {
            add(
                .low,
                "ioctl-tiocsti-high-bits",
                "a request with high bits set (0x1_0000_5412) passes the TIOCSTI guard; the kernel truncates it to TIOCSTI and refuses it only "
                    + "because the unit has no terminal and no CAP_SYS_ADMIN"
            )
        }

        // The kernel reads these arguments as 32-bit ints while the filter compares all 64 bits:
        // a condition that does not pin the upper half can pass a value the kernel truncates to one
        // the condition refuses (ioctl's request is the rule above).
        for (syscall, indices) in Self.thirtyTwoBitArguments where g.allows(syscall) && !g.defaultAllows {
            for index in indices {
                if let example = Self.truncationExample(g.grant(syscall), index: index) {
                    let name = SyscallCatalog.argumentName(syscall, index)
                    add(
                        .low,
                        "arg-truncation",
                        "\(syscall)'s condition (\(g.conditionText(syscall))) passes \(name)=0x\(String(example, radix: 16, uppercase: true)), "
                            + "which the kernel truncates to \(SyscallCatalog.describe(syscall, index, example & 0xFFFF_FFFF)), a value it refuses; "
                            + "pin the upper 32 bits (e.g. with SCMP_CMP_EQ or a MASKED_EQ on 0xFFFFFFFF00000000)"
                    )
                }
            }
        }

        // Medium: wider than a unit needs, though another layer still holds.
        let privileged = allowed(
            SyscallCatalog.words(
                """
                init_module finit_module delete_module kexec_load kexec_file_load reboot swapon swapoff clock_settime settimeofday
                clock_adjtime adjtimex iopl ioperm open_by_handle_at chroot acct quotactl syslog modify_ldt lookup_dcookie uselib
                vhangup fanotify_init move_pages migrate_pages
                """
            )
        )
        if !privileged.isEmpty {
            add(
                .medium,
                "privileged-syscall",
                "\(privileged.joined(separator: ", ")) allowed: each needs a capability the unit never holds; allowing it only exposes kernel code"
            )
        }
        let inspecting = allowed(["kcmp", "pidfd_getfd"])
        if !inspecting.isEmpty {
            add(
                .medium,
                "process-inspection",
                "\(inspecting.joined(separator: ", ")) allowed: compares kernel objects of, or takes descriptors from, other processes of the unit"
            )
        }
        if !g.grant("socket").isSubset(of: Self.reviewedSockets) {
            add(
                .medium,
                "socket-families",
                "socket allowed beyond AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK with NETLINK_ROUTE (\(g.conditionText("socket"))): "
                    + "AF_PACKET, AF_VSOCK, other netlink protocols (audit, uevents, sock_diag)… reach more kernel code"
            )
        }
        if g.grant("personality").admits(index: 0, outside: [0, 0xFFFF_FFFF], lowHalfOnly: true) {
            add(
                .medium,
                "personality",
                "personality allowed beyond query and PER_LINUX (\(g.conditionText("personality"))): ADDR_NO_RANDOMIZE turns off ASLR"
            )
        }
        let mixed = g.allowed.keys.filter { g.denied[$0] != nil }.sorted()
        if !mixed.isEmpty {
            add(
                .medium,
                "mixed-actions",
                "\(mixed.joined(separator: ", ")) both allowed and denied by rules: which wins depends on libseccomp's merge; keep one action per syscall"
            )
        }
        if profile.seccomp.defaultErrnoRet == 0 && !g.defaultAllows {
            add(.medium, "errno-zero", "defaultErrnoRet 0: every denied call reports success to the unit")
        }
        for (i, rule) in profile.seccomp.syscalls.enumerated() where rule.action == .errno && rule.errnoRet == 0 {
            add(.low, "errno-zero", "seccomp.syscalls[\(i)] (\(rule.names.joined(separator: ", "))) fails with 0: the call pretends to succeed")
        }
        for (i, rule) in profile.seccomp.syscalls.enumerated() where rule.action == .log {
            add(
                .low,
                "log-action",
                "seccomp.syscalls[\(i)] (\(rule.names.joined(separator: ", "))) is SCMP_ACT_LOG: allowed, and every call is written to the host's audit log"
            )
        }
        if profile.devices.contains("tty") {
            add(.medium, "device-tty", "/dev/tty is bound: a controlling terminal is what TIOCSTI and job-control tricks need")
        }
        let sensitiveTrees = [
            "/home", "/root", "/var", "/run", "/boot", "/proc", "/sys", "/dev", "/tmp", "/mnt", "/media", "/srv", "/etc/ssh", "/etc/ssl/private",
        ]
        let sensitiveFiles = ["/etc", "/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/passwd", "/etc/group"]
        for m in profile.mounts {
            let s = m.source
            if sensitiveFiles.contains(s) || sensitiveTrees.contains(where: { s == $0 || s.hasPrefix($0 + "/") }) {
                add(.medium, "sensitive-path", "\(s) is bound: it holds the volunteer's data, accounts, secrets or live system state")
            }
        }
        for k in profile.environment.keys.sorted() {
            if k.hasPrefix("LD_") || ["PYTHONPATH", "PYTHONSTARTUP", "PERL5OPT", "NODE_OPTIONS", "BASH_ENV", "ENV"].contains(k) {
                add(.medium, "loader-environment", "\(k) changes what every program in the unit loads or runs first")
            }
            let upper = k.uppercased()
            if ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "PRIVATE"].contains(where: { upper.contains($0) }) {
                add(.medium, "secret-in-environment", "\(k) looks like a secret: every unit of every requester would read it")
            }
        }

        // Low: worth a reviewer's second look.
        let memlock = allowed(["mlock", "mlock2", "mlockall"])
        if !memlock.isEmpty {
            add(.low, "memlock", "\(memlock.joined(separator: ", ")) allowed: pins memory up to RLIMIT_MEMLOCK (counted in the unit's memory cgroup)")
        }
        if g.allows("memfd_create") && g.allows("execveat") {
            add(.low, "fileless-exec", "memfd_create and execveat allowed: code can run without being written to a file")
        }
        if g.grant("socket").admits(index: 0, set: 16, clear: 0xFFFF_FFEF) {
            add(
                .low,
                "netlink-route",
                "socket(AF_NETLINK, NETLINK_ROUTE) allowed: rtnetlink's parsers are reachable; the unit reads only its own network "
                    + "namespace (its lo), and changing it needs CAP_NET_ADMIN, which the unit lacks"
            )
        }
        if g.allows("sync") { add(.low, "sync", "sync allowed: a machine-wide flush can stall the volunteer's disks") }
        let l = profile.limits
        if l.maxPids > 4096 { add(.low, "large-limit", "max_pids \(l.maxPids): more than 4096 processes for one unit") }
        if l.openFiles > 65536 { add(.low, "large-limit", "open_files \(l.openFiles): more than 65536 descriptors per process") }
        if l.tmpSizeBytes > l.maxMemoryBytes { add(.low, "large-limit", "tmp_size is larger than max_memory; /tmp is counted in memory") }
        if profile.description.isEmpty { add(.low, "no-description", "no description: say what the profile is for") }
        return sorted(findings)
    }

    /// The sockets a unit may open without a finding, judged on the low 32 bits the kernel reads:
    /// `AF_UNIX`, `AF_INET`, `AF_INET6` of any protocol, and `AF_NETLINK` with `NETLINK_ROUTE`
    /// (protocol 0) only: what `getaddrinfo(AI_ADDRCONFIG)` and interface lookups need.
    static let reviewedSockets: ArgumentSet = {
        func socket(family: UInt64, netlinkProtocol: UInt64?) -> ArgumentSet.Cube {
            var c = ArgumentSet.Cube.any
            c.mask[0] = 0xFFFF_FFFF
            c.bits[0] = family
            if let netlinkProtocol {
                c.mask[2] = 0xFFFF_FFFF
                c.bits[2] = netlinkProtocol
            }
            return c
        }
        return ArgumentSet(cubes: [1, 2, 10].map { socket(family: $0, netlinkProtocol: nil) } + [socket(family: 16, netlinkProtocol: 0)])
    }()

    /// Arguments the kernel declares `int` or `unsigned int`, by syscall (ioctl's request has its own rule).
    static let thirtyTwoBitArguments: [(String, [Int])] = [
        ("socket", [0, 1, 2]), ("socketpair", [0, 1, 2]), ("personality", [0]), ("prctl", [0]), ("fcntl", [1]), ("kill", [1]),
        ("tkill", [1]), ("tgkill", [2]), ("setsockopt", [1, 2]), ("getsockopt", [1, 2]), ("unshare", [0]), ("setns", [1]),
        ("open", [1]), ("openat", [2]), ("madvise", [2]), ("seccomp", [0]),
    ]

    /// A value of argument `index` with upper bits set that `set` admits while it refuses the
    /// same low 32 bits with the upper half zero; nil when truncation widens nothing.
    static func truncationExample(_ set: ArgumentSet, index: Int) -> UInt64? {
        let low: UInt64 = 0xFFFF_FFFF
        func projected(_ cube: ArgumentSet.Cube) -> ArgumentSet.Cube {
            var c = cube
            c.mask[index] &= low
            c.bits[index] &= low
            return c
        }
        // What the kernel acts on (the low half, whatever the upper half) against what the filter
        // admits with the upper half zero.
        let seen = ArgumentSet(cubes: set.cubes.map(projected))
        let plain = ArgumentSet(cubes: set.cubes.filter { $0.bits[index] & ~low == 0 }.map(projected))
        guard let uncovered = seen.uncovered(by: plain, limit: 1, budget: 200_000)?.first else { return nil }
        let lowValue = uncovered.bits[index] & low
        for c in set.cubes where projected(c).intersection(uncovered) != nil {
            let forced = c.bits[index] & ~low
            if forced != 0 { return forced | lowValue }
            let free = ~c.mask[index] & ~low
            if free != 0 { return lowValue | (free & (~free &+ 1)) }
        }
        return nil
    }

    static func sorted(_ findings: [Finding]) -> [Finding] {
        var seen = Set<String>()
        return findings.enumerated().sorted { ($0.element.severity, $0.offset) < ($1.element.severity, $1.offset) }.map(\.element)
            .filter { seen.insert($0.description).inserted }
    }
}
