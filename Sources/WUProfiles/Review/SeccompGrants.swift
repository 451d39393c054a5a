/// The seccomp section of a profile as grants: per syscall, exactly which argument tuples pass.
///
/// A rule whose action is `SCMP_ACT_ALLOW` or `SCMP_ACT_LOG` grants; any other action denies. A
/// syscall's grant is the union of its granting rules (each the intersection of its conditions).
/// A profile whose default action allows grants every syscall not denied by name.
struct SeccompGrants: Sendable {
    typealias Seccomp = SandboxProfile.Seccomp

    /// Syscalls some rule allows, with the argument tuples allowed.
    var allowed: [String: ArgumentSet] = [:]
    /// The granting rules' conditions per syscall (an empty list: no condition).
    var conditions: [String: [[Seccomp.Arg]]] = [:]
    /// Comments of the granting rules per syscall.
    var comments: [String: [String]] = [:]
    /// Syscalls named by a denying rule, with that rule's action and errno.
    var denied: [String: (action: Seccomp.Action, errno: Int, comment: String?)] = [:]
    /// The default action allows (every syscall not denied by name passes).
    var defaultAllows: Bool
    var defaultAction: Seccomp.Action
    var defaultErrno: Int

    /// The most cubes one syscall's grant may hold; past it the grant is approximated like a rule's.
    static let syscallCap = 65536

    /// Reads a seccomp section.
    ///
    /// - Parameter overApproximate: How to bound a pathological rule set (see
    ///   ``ArgumentSet/init(conditions:overApproximate:)``): from above for a profile under review
    ///   or a candidate, from below for the reference a candidate is compared against.
    init(_ seccomp: Seccomp, overApproximate: Bool = true) {
        defaultAction = seccomp.defaultAction
        defaultErrno = seccomp.defaultErrnoRet
        defaultAllows = Self.grants(seccomp.defaultAction)
        for rule in seccomp.syscalls {
            for name in rule.names {
                if Self.grants(rule.action) {
                    let current = allowed[name, default: .empty]
                    let added = ArgumentSet(conditions: rule.args, overApproximate: overApproximate)
                    if current.cubes.count + added.cubes.count <= Self.syscallCap {
                        allowed[name] = current.union(added)
                    } else if overApproximate {
                        allowed[name] = .everything
                    } else {
                        allowed[name] = current
                    }
                    conditions[name, default: []].append(rule.args)
                    if let c = rule.comment { comments[name, default: []].append(c) }
                } else {
                    denied[name] = (rule.action, rule.errnoRet ?? seccomp.defaultErrnoRet, rule.comment)
                }
            }
        }
    }

    static func grants(_ action: Seccomp.Action) -> Bool { action == .allow || action == .log }

    /// The tuples allowed for `syscall`, default action included.
    func grant(_ syscall: String) -> ArgumentSet {
        if let set = allowed[syscall] { return defaultAllows && denied[syscall] == nil ? .everything : set }
        if defaultAllows && denied[syscall] == nil { return .everything }
        return .empty
    }

    /// Whether `syscall` passes the filter with some arguments.
    func allows(_ syscall: String) -> Bool { !grant(syscall).isEmpty }

    /// The conditions under which `syscall` passes, in words: `always`, or the rules joined by `or`.
    func conditionText(_ syscall: String) -> String {
        if defaultAllows && denied[syscall] == nil && allowed[syscall] == nil { return "always (default action)" }
        guard let rules = conditions[syscall], !rules.isEmpty else { return "never" }
        if rules.contains(where: \.isEmpty) { return "always" }
        var seen = Set<String>()
        return rules.map { Self.text(syscall, $0) }.filter { seen.insert($0).inserted }.joined(separator: " or ")
    }

    /// One rule's conditions: `flags & 0x7E020080 == 0 and …`.
    static func text(_ syscall: String, _ args: [Seccomp.Arg]) -> String {
        // A socket's protocol is named by its family: 0 under AF_NETLINK is NETLINK_ROUTE.
        let netlink = syscall == "socket" && args.contains { $0.index == 0 && ($0.op == .maskedEq ? $0.valueTwo : $0.value) == 16 }
        func describe(_ index: Int, _ value: UInt64) -> String {
            if netlink, index == 2, let name = SyscallCatalog.netlinkProtocols[value] { return name }
            return SyscallCatalog.describe(syscall, index, value)
        }
        return args.sorted { $0.index < $1.index }.map { a in
            let n = SyscallCatalog.argumentName(syscall, a.index)
            let v = describe(a.index, a.value)
            switch a.op {
            case .eq: return "\(n) == \(v)"
            case .ne: return "\(n) != \(v)"
            case .lt: return "\(n) < \(v)"
            case .le: return "\(n) <= \(v)"
            case .gt: return "\(n) > \(v)"
            case .ge: return "\(n) >= \(v)"
            case .maskedEq:
                let mask = "0x" + String(a.value, radix: 16, uppercase: true)
                return "\(n) & \(mask) == \(describe(a.index, a.valueTwo))"
            }
        }.joined(separator: " and ")
    }

    /// An example call in `set`, showing only the arguments some rule of either side conditions on.
    static func example(_ syscall: String, _ set: ArgumentSet, indices: Set<Int>) -> String {
        // Prefer an example whose values all have names (CLONE_NEWNS|CLONE_THREAD over 0x10080).
        var first: String?
        for cube in set.cubes.prefix(512) {
            let values = indices.sorted().map { SyscallCatalog.describe(syscall, $0, cube.example[$0]) }
            let shown = zip(indices.sorted(), values).map { "\(SyscallCatalog.argumentName(syscall, $0))=\($1)" }
            let text = shown.isEmpty ? "\(syscall)(…)" : "\(syscall)(\(shown.joined(separator: ", ")))"
            if !values.contains(where: { $0.hasPrefix("0x") }) { return text }
            if first == nil { first = text }
        }
        return first ?? ""
    }

    func conditionedIndices(_ syscall: String) -> Set<Int> {
        Set((conditions[syscall] ?? []).flatMap { $0.map(\.index) })
    }

    /// Every syscall this section names or allows.
    var names: Set<String> { Set(allowed.keys).union(denied.keys) }

    /// `EPERM`, `ENOSYS` … for the errnos profiles use.
    static func errnoName(_ e: Int) -> String {
        let names: [Int: String] = [
            0: "0 (the call pretends to succeed)", 1: "EPERM", 2: "ENOENT", 13: "EACCES", 22: "EINVAL", 38: "ENOSYS", 95: "EOPNOTSUPP",
        ]
        return names[e] ?? "errno \(e)"
    }

    /// How a denied call ends, in words.
    static func denialText(_ action: Seccomp.Action, errno: Int) -> String {
        switch action {
        case .errno: return "fails with \(errnoName(errno))"
        case .kill, .killThread: return "kills the thread"
        case .killProcess: return "kills the process"
        case .trap: return "raises SIGSYS"
        case .allow, .log: return "allowed"
        }
    }
}
