import WUCore

/// What each of two profiles grants that the other does not, section by section (`wu profile diff A B`).
///
/// Syscalls are compared exactly, argument conditions included (see ``ArgumentSet``): B widens A
/// for a syscall when some call passes B's rules and not A's, and the difference names one such
/// call. Host paths are compared by what they expose (a bind of `/usr/lib` is within one of
/// `/usr`), limits by their upper bounds.
public struct ProfileDiff: Sendable, Encodable {
    /// One grant of one side that the other side lacks.
    public struct Difference: Sendable, Equatable, Encodable {
        /// `namespaces`, `network`, `paths`, `devices`, `limits`, `syscalls`, `environment`, `hostname`.
        public var section: String
        /// The syscall, path, device, limit or variable.
        public var subject: String
        /// What exactly is granted; empty for a syscall allowed with any arguments.
        public var detail: String
        /// Whether this widens what a unit can do (environment, hostname and denial errnos do not).
        public var widens: Bool

        /// `subject: detail`, or the subject alone.
        public var text: String {
            if detail.isEmpty { return subject }
            return section == "environment" ? "\(subject) (\(detail))" : "\(subject): \(detail)"
        }
    }

    public var baseName: String
    public var otherName: String
    /// What the second profile grants that the first does not.
    public var onlyInOther: [Difference]
    /// What the first profile grants that the second does not.
    public var onlyInBase: [Difference]

    enum CodingKeys: String, CodingKey {
        case baseName = "a"
        case otherName = "b"
        case onlyInOther = "only_in_b"
        case onlyInBase = "only_in_a"
    }

    /// Compares `base` (A) with `other` (B).
    public init(_ base: SandboxProfile, _ other: SandboxProfile) {
        baseName = base.name
        otherName = other.name
        onlyInOther = Self.grants(of: other, beyond: base)
        onlyInBase = Self.grants(of: base, beyond: other)
    }

    /// True when neither side grants anything the other does not (environment and hostname included).
    public var isEmpty: Bool { onlyInOther.isEmpty && onlyInBase.isEmpty }

    static let sections = ["namespaces", "network", "paths", "devices", "limits", "syscalls", "environment", "hostname"]

    /// Everything `b` grants that `a` does not.
    static func grants(of b: SandboxProfile, beyond a: SandboxProfile) -> [Difference] {
        var out: [Difference] = []
        func add(_ section: String, _ subject: String, _ detail: String, widens: Bool = true) {
            out.append(Difference(section: section, subject: subject, detail: detail, widens: widens))
        }
        for ns in SandboxProfile.Namespace.allCases where a.namespaces.contains(ns) && !b.namespaces.contains(ns) {
            add("namespaces", ns.rawValue, "not isolated: shares the host's \(ns.rawValue) namespace")
        }
        if b.network != a.network && b.network != "none" { add("network", b.network, "reaches beyond the unit's own loopback") }
        for m in b.mounts where !a.mounts.contains(where: { m.source == $0.source || m.source.hasPrefix($0.source + "/") }) {
            add("paths", m.source, "read-only" + (m.target == m.source ? "" : ", at \(m.target)") + (m.optional ? ", optional" : ""))
        }
        for d in b.devices where !a.devices.contains(d) { add("devices", "/dev/" + d, "bound from the host") }
        let la = a.limits
        let lb = b.limits
        func limit<T: Comparable>(_ name: String, _ vb: T, _ va: T, _ show: (T) -> String) {
            if vb > va { add("limits", name, "up to \(show(vb)) (\(a.name): \(show(va)))") }
        }
        limit("max_cpus", lb.maxMillicpus, la.maxMillicpus) { $0 % 1000 == 0 ? "\($0 / 1000)" : "\(Double($0) / 1000)" }
        limit("max_memory", lb.maxMemoryBytes, la.maxMemoryBytes, ByteSize.format)
        limit("max_pids", lb.maxPids, la.maxPids) { "\($0)" }
        limit("max_disk", lb.maxDiskBytes, la.maxDiskBytes, ByteSize.format)
        limit("max_wall_time", lb.maxWallTimeMs, la.maxWallTimeMs) { DurationText.format(milliseconds: $0) }
        limit("open_files", lb.openFiles, la.openFiles) { "\($0)" }
        limit("tmp_size", lb.tmpSizeBytes, la.tmpSizeBytes, ByteSize.format)

        // b's grants from above, a's from below: approximations only ever make b look wider.
        let ga = SeccompGrants(a.seccomp, overApproximate: false)
        let gb = SeccompGrants(b.seccomp, overApproximate: true)
        if gb.defaultAllows && !ga.defaultAllows {
            add("syscalls", "default action", "\(b.seccomp.defaultAction.rawValue): every call not denied by name passes")
        }
        for s in gb.names.union(ga.names).sorted() {
            let setB = gb.grant(s)
            guard !setB.isEmpty else { continue }
            let setA = ga.grant(s)
            if setA.isEmpty {
                let cond = gb.conditionText(s)
                add("syscalls", s, cond == "always" || cond.hasPrefix("always (") ? "" : "if \(cond)")
                continue
            }
            guard let extra = setB.uncovered(by: setA, limit: 8) else {
                add("syscalls", s, "\(gb.conditionText(s)) (\(a.name): \(ga.conditionText(s))); too complex to prove narrower")
                continue
            }
            guard !extra.isEmpty else { continue }
            let indices = ga.conditionedIndices(s).union(gb.conditionedIndices(s))
            let example = SeccompGrants.example(s, ArgumentSet(cubes: extra), indices: indices)
            add("syscalls", s, "\(gb.conditionText(s)) (\(a.name): \(ga.conditionText(s))); e.g. \(example)")
        }
        for s in gb.denied.keys.sorted() {
            let d = gb.denied[s]!
            let mine = SeccompGrants.denialText(d.action, errno: d.errno)
            let theirs: String
            if let o = ga.denied[s] {
                theirs = SeccompGrants.denialText(o.action, errno: o.errno)
            } else if ga.allows(s) {
                continue
            } else {
                theirs = SeccompGrants.denialText(ga.defaultAction, errno: ga.defaultErrno) + " by default"
            }
            if mine != theirs { add("syscalls", s, "denied: \(mine) (\(a.name): \(theirs))", widens: false) }
        }

        for k in b.environment.keys.sorted() where a.environment[k] != b.environment[k] {
            add("environment", "\(k)=\(b.environment[k]!)", a.environment[k].map { "\(a.name): \(k)=\($0)" } ?? "", widens: false)
        }
        if a.hostname != b.hostname { add("hostname", b.hostname, "", widens: false) }
        return out
    }

    /// The comparison as text: a header, then each side's extra grants by section.
    public var lines: [String] {
        var out = ["--- \(baseName)", "+++ \(otherName)"]
        for (title, items) in [("\(otherName) grants beyond \(baseName):", onlyInOther), ("\(baseName) grants beyond \(otherName):", onlyInBase)] {
            out.append(title)
            if items.isEmpty { out.append("  nothing") }
            for section in Self.sections {
                let here = items.filter { $0.section == section }
                guard !here.isEmpty else { continue }
                out.append("  \(section):")
                let plain = here.filter { $0.section == "syscalls" && $0.detail.isEmpty }.map(\.subject)
                if !plain.isEmpty { out.append(contentsOf: ProfileExplanation.wrap("    allowed: ", plain, indent: "      ")) }
                for d in here where !(d.section == "syscalls" && d.detail.isEmpty) { out.append("    " + d.text) }
            }
        }
        return out
    }

    public var text: String { lines.joined(separator: "\n") }
}
