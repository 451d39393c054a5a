import WUCore

/// A profile in plain words, for `wu profile explain`: what each section lets a unit do.
///
/// ``lines`` is the text a reviewer reads; the same content encodes as JSON (`--json`).
public struct ProfileExplanation: Sendable, Encodable {
    public var name: String
    public var description: String
    public var origin: String
    public var namespaces: [Namespace]
    public var hostname: String
    public var mounts: [Mount]
    public var devices: [String]
    public var network: String
    public var limits: [Limit]
    public var environment: [String: String]
    public var seccomp: Syscalls

    public struct Namespace: Sendable, Encodable {
        public var name: String
        public var isolated: Bool
        public var meaning: String
    }

    public struct Mount: Sendable, Encodable {
        public var source: String
        public var target: String
        public var readOnly: Bool
        public var optional: Bool
        enum CodingKeys: String, CodingKey {
            case source, target, optional
            case readOnly = "read_only"
        }
    }

    public struct Limit: Sendable, Encodable {
        public var name: String
        public var value: String
        public var meaning: String
    }

    public struct Syscalls: Sendable, Encodable {
        public var defaultAction: String
        public var defaultErrno: Int
        public var allowedCount: Int
        public var groups: [Group]
        public var denied: [Denied]
        enum CodingKeys: String, CodingKey {
            case groups, denied
            case defaultAction = "default_action"
            case defaultErrno = "default_errno"
            case allowedCount = "allowed_count"
        }
    }

    public struct Group: Sendable, Encodable {
        public var purpose: String
        public var syscalls: [Syscall]
    }

    public struct Syscall: Sendable, Encodable {
        public var name: String
        /// nil when allowed with any arguments.
        public var condition: String?
        public var comment: String?
        public var risk: String?
    }

    public struct Denied: Sendable, Encodable {
        public var name: String
        public var outcome: String
        public var comment: String?
    }

    /// Explains `profile`.
    ///
    /// - Parameter origin: Where it was read from (`built-in default.json`, a path), shown under the name.
    public init(_ profile: SandboxProfile, origin: String) {
        name = profile.name
        description = profile.description
        self.origin = origin
        hostname = profile.hostname
        namespaces = SandboxProfile.Namespace.allCases.map { ns in
            let isolated = profile.namespaces.contains(ns)
            return Namespace(
                name: ns.rawValue,
                isolated: isolated,
                meaning: isolated
                    ? Self.namespaceMeaning(ns, hostname: profile.hostname) : "NOT isolated: the unit shares the host's \(ns.rawValue) namespace"
            )
        }
        mounts = profile.mounts.map { Mount(source: $0.source, target: $0.target, readOnly: true, optional: $0.optional) }
        devices = profile.devices
        network = profile.network
        let l = profile.limits
        let cpus = l.maxMillicpus % 1000 == 0 ? "\(l.maxMillicpus / 1000)" : "\(Double(l.maxMillicpus) / 1000)"
        limits = [
            Limit(name: "cpus", value: cpus, meaning: "at most \(cpus) CPU\(cpus == "1" ? "" : "s") of quota"),
            Limit(name: "memory", value: ByteSize.format(l.maxMemoryBytes), meaning: "at most \(ByteSize.format(l.maxMemoryBytes)), no swap"),
            Limit(name: "pids", value: "\(l.maxPids)", meaning: "at most \(l.maxPids) processes and threads"),
            Limit(name: "disk", value: ByteSize.format(l.maxDiskBytes), meaning: "at most \(ByteSize.format(l.maxDiskBytes)) written to /out"),
            Limit(
                name: "wall time",
                value: DurationText.format(milliseconds: l.maxWallTimeMs),
                meaning: "at most \(DurationText.format(milliseconds: l.maxWallTimeMs)), then the unit is killed"
            ),
            Limit(name: "open files", value: "\(l.openFiles)", meaning: "\(l.openFiles) descriptors per process (RLIMIT_NOFILE)"),
            Limit(
                name: "/tmp",
                value: ByteSize.format(l.tmpSizeBytes),
                meaning: "\(ByteSize.format(l.tmpSizeBytes)) tmpfs, counted in the unit's memory"
            ),
        ]
        environment = profile.environment

        let grants = SeccompGrants(profile.seccomp)
        var groups: [Group] = []
        let allowedNames = grants.allowed.keys.filter { !grants.allowed[$0]!.isEmpty }
        var byPurpose: [String: [String]] = [:]
        for n in allowedNames { byPurpose[SyscallCatalog.purpose(of: n), default: []].append(n) }
        for purpose in SyscallCatalog.purposes.map(\.name) + ["other"] {
            guard let names = byPurpose[purpose] else { continue }
            groups.append(
                Group(
                    purpose: purpose,
                    syscalls: names.sorted().map { n in
                        let condition = grants.conditionText(n)
                        return Syscall(
                            name: n,
                            condition: condition == "always" ? nil : condition,
                            comment: grants.comments[n].map { $0.joined(separator: "; ") },
                            risk: SyscallCatalog.risk(of: n)
                        )
                    }
                )
            )
        }
        seccomp = Syscalls(
            defaultAction: profile.seccomp.defaultAction.rawValue,
            defaultErrno: profile.seccomp.defaultErrnoRet,
            allowedCount: allowedNames.count,
            groups: groups,
            denied: grants.denied.keys.sorted().map { n in
                let d = grants.denied[n]!
                return Denied(name: n, outcome: SeccompGrants.denialText(d.action, errno: d.errno), comment: d.comment)
            }
        )
    }

    static func namespaceMeaning(_ ns: SandboxProfile.Namespace, hostname: String) -> String {
        switch ns {
        case .user: "own user ids: uid 1000 inside is an unprivileged host id; no capability counts on the host"
        case .pid: "own process tree: sees and signals only its own processes; pid 1 is the sandbox's init"
        case .mount: "own mount table: a fresh root holding only the paths below, its own /code /in /out /tmp, generated /etc files"
        case .net: "own network stack with only its loopback: no host interface, no host loopback"
        case .uts: "own hostname (\(hostname)): the volunteer's machine name is hidden"
        case .ipc: "own System V IPC and POSIX message queues: nothing of the host's is visible"
        case .cgroup: "own cgroup root: the runner's and other units' cgroups are out of sight"
        }
    }

    /// The explanation as text, one line per element.
    public var lines: [String] {
        var out: [String] = []
        out.append(description.isEmpty ? name : "\(name): \(description)")
        out.append("  from \(origin)")
        out.append("")
        out.append("Always, whatever the profile: no capabilities, no_new_privs, an unprivileged host uid, no descriptor")
        out.append("  inherited beyond 0-2, /code and /in read-only, /out and /tmp bounded, the seccomp filter installed last.")
        out.append("")
        let missing = namespaces.filter { !$0.isolated }.count
        out.append(missing == 0 ? "Namespaces (all 7; nothing of the host's is shared):" : "Namespaces (\(missing) NOT isolated):")
        for ns in namespaces { out.append("  " + Self.pad(ns.name, 8) + ns.meaning) }
        out.append("")
        if mounts.isEmpty {
            out.append("Host paths: none")
        } else {
            out.append("Host paths (bound read-only, nosuid, nodev; nothing else of the host's files is visible):")
            let width = (mounts.map { Self.mountPath($0).count }.max() ?? 0) + 2
            for m in mounts {
                out.append(
                    "  " + Self.pad(Self.mountPath(m), width) + (m.readOnly ? "read-only" : "WRITABLE")
                        + (m.optional ? ", optional (skipped when the host lacks it)" : "")
                )
            }
        }
        out.append("")
        out.append(
            "Devices: " + (devices.isEmpty ? "none" : devices.map { "/dev/" + $0 }.joined(separator: ", "))
                + " (plus /dev/fd, /dev/std{in,out,err}, its own /dev/pts and /dev/shm)"
        )
        out.append("")
        out.append(
            network == "none"
                ? "Network: none (its own loopback only; no route to the host or beyond)" : "Network: \(network) (REACHES BEYOND THE SANDBOX)"
        )
        out.append("")
        out.append("Resource bounds (a manifest asking for more is refused, not clipped):")
        for l in limits { out.append("  " + Self.pad(l.name, 12) + l.meaning) }
        out.append("")
        if environment.isEmpty {
            out.append("Environment: none from the profile (the manifest's env and WU_* come on top)")
        } else {
            out.append("Environment (the manifest's env and WU_* come on top; nothing of the runner's):")
            for k in environment.keys.sorted() { out.append("  \(k)=\(environment[k]!)") }
        }
        out.append("")
        let deniedCount = seccomp.denied.count
        let action = SandboxProfile.Seccomp.Action(rawValue: seccomp.defaultAction) ?? .errno
        if SeccompGrants.grants(action) {
            out.append(
                "System calls: NOT an allowlist (\(seccomp.defaultAction)): every call not denied by name is ALLOWED; \(deniedCount) denied by name"
            )
        } else {
            out.append(
                "System calls: an allowlist of \(seccomp.allowedCount); any other call \(SeccompGrants.denialText(action, errno: seccomp.defaultErrno)) "
                    + "(\(seccomp.defaultAction)); \(deniedCount) denied by name"
            )
        }
        out.append("  (* only under the conditions listed below; ! widens the attack surface)")
        for g in seccomp.groups {
            let names = g.syscalls.map { $0.name + ($0.condition == nil ? "" : "*") }
            out.append(contentsOf: Self.wrap("  \(g.purpose) (\(g.syscalls.count)): ", names, indent: "    "))
            var notes: [(String, [String])] = []
            for s in g.syscalls {
                guard let r = s.risk else { continue }
                if let i = notes.firstIndex(where: { $0.0 == r }) { notes[i].1.append(s.name) } else { notes.append((r, [s.name])) }
            }
            for (note, names) in notes { out.append("    ! \(names.joined(separator: ", ")): \(note)") }
        }
        let conditional = seccomp.groups.flatMap(\.syscalls).filter { $0.condition != nil }.sorted { $0.name < $1.name }
        if !conditional.isEmpty {
            out.append("Allowed only under conditions:")
            for s in conditional {
                out.append("  " + Self.pad(s.name, 12) + s.condition! + (s.comment.map { "  (\($0))" } ?? ""))
            }
        }
        if !seccomp.denied.isEmpty {
            out.append("Denied by name:")
            for d in seccomp.denied { out.append("  " + Self.pad(d.name, 12) + d.outcome + (d.comment.map { "  (\($0))" } ?? "")) }
        }
        return out
    }

    /// The explanation as one text.
    public var text: String { lines.joined(separator: "\n") }

    static func mountPath(_ m: Mount) -> String { m.source == m.target ? m.source : "\(m.source) -> \(m.target)" }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    /// `prefix` followed by `items` joined by `, `, wrapped at 100 columns.
    static func wrap(_ prefix: String, _ items: [String], indent: String) -> [String] {
        var out: [String] = []
        var line = prefix
        var first = true
        for item in items {
            let piece = (first ? "" : ", ") + item
            if !first && line.count + piece.count > 100 {
                out.append(line + ",")
                line = indent + item
            } else {
                line += piece
            }
            first = false
        }
        out.append(line)
        return out
    }
}
