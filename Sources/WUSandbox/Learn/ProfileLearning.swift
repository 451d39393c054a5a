import Glibc
public import WUProtocol

/// `wu profile learn`: what a command uses, turned into the narrowest profile that still runs it.
///
/// The command runs once in the sandbox of a base profile (its namespaces, mounts, devices and
/// limits) under a filter that lets every call through and records it (seccomp user notification
/// with `SECCOMP_USER_NOTIF_FLAG_CONTINUE`). The learned profile is the base with its allow rules
/// cut down to the syscalls the command made; the base's deny rules stay. So it is never wider
/// than the base, and a call the base denies is listed as such, not added.
public struct ProfileLearning: Sendable {
    /// The learned profile.
    public var profile: SandboxProfile
    /// How the command ended while it was being watched.
    public var usage: ResourceUsage
    /// Every syscall the command made, with counts, most frequent first.
    public var observed: [ResourceUsage.DeniedSyscall]
    /// Syscalls the command made that the base profile does not allow: they are not in the
    /// learned profile, which denies them as the base does.
    public var deniedByBase: [String]

    /// Let through unrecorded while learning, and always kept: the unit's process makes them after
    /// installing its filter and before the supervisor holds the listener (the hand-over's `read`
    /// and `write`, `execve`, and `exit_group`/`exit` when the exec fails).
    static let unsupervised: [String] = ["read", "write", "execve", "exit", "exit_group"]

    /// Runs `request` under `base`'s sandbox with every call recorded, and learns a profile named `name`.
    /// - Throws: ``SandboxError`` when the sandbox cannot supervise (not root) or cannot start the command.
    public static func learn(
        _ request: SandboxRequest,
        base: SandboxProfile,
        cap: VolunteerCap,
        name: String,
        description: String
    ) async throws(SandboxError) -> ProfileLearning {
        let sandbox = try Sandbox.learning(profile: base, cap: cap)
        let result = try await sandbox.run(request)
        var learned = derive(from: base, used: Set(result.learnedSyscalls.map(\.name)), name: name, description: description)
        learned.usage = result.usage
        learned.observed = result.learnedSyscalls
        return learned
    }

    /// The base profile with its allow rules restricted to `used` (plus ``unsupervised``).
    static func derive(from base: SandboxProfile, used: Set<String>, name: String, description: String) -> ProfileLearning {
        let keep = used.union(unsupervised)
        var profile = base
        profile.name = name
        profile.description = description
        profile.sourceBytes = []
        var allowedByBase = Set<String>()
        profile.seccomp.syscalls = base.seccomp.syscalls.compactMap { rule in
            guard rule.action == .allow || rule.action == .log else { return rule }  // deny rules never widen
            allowedByBase.formUnion(rule.names)
            var cut = rule
            cut.names = rule.names.filter { keep.contains($0) }
            return cut.names.isEmpty ? nil : cut
        }
        let denied = used.subtracting(allowedByBase).sorted()
        return ProfileLearning(profile: profile, usage: ResourceUsage(), observed: [], deniedByBase: denied)
    }
}

extension SandboxProfile {
    /// The recording filter of `wu profile learn`: every call is logged (turned into a notification
    /// the supervisor lets through), but for ``ProfileLearning/unsupervised``, which run before the
    /// supervisor holds the listener, and the base's ENOSYS rules (`clone3`), so that libc falls
    /// back exactly as it will under the learned profile.
    func learningSeccomp() -> Seccomp {
        var s = seccomp
        s.defaultAction = .log
        var rules: [Seccomp.Rule] = []
        // A rule is copied and rewritten: the profile model has no public memberwise initializer.
        if var rule = seccomp.syscalls.first(where: { $0.action == .allow }) ?? seccomp.syscalls.first {
            rule.names = ProfileLearning.unsupervised
            rule.action = .allow
            rule.args = []
            rule.errnoRet = nil
            rule.comment = nil
            rules.append(rule)
        }
        rules += seccomp.syscalls.filter { $0.action == .errno && ($0.errnoRet ?? seccomp.defaultErrnoRet) == Int(ENOSYS) && $0.args.isEmpty }
        s.syscalls = rules
        return s
    }

    /// The profile as JSON in the format of `sandbox-profiles/*.json`, two-space indented.
    ///
    /// Sizes are written in bytes and durations in milliseconds; parsing the text gives back an
    /// equal profile (but for ``sourceBytes``).
    public var jsonText: String {
        let w = JSONWriter()
        w.object {
            w.field("name", string: name)
            if !description.isEmpty { w.field("description", string: description) }
            w.field("namespaces", strings: namespaces.map(\.rawValue))
            w.field("network", string: network)
            w.field("hostname", string: hostname)
            w.field("mounts") {
                w.array(mounts) { m in
                    w.object {
                        w.field("source", string: m.source)
                        if m.target != m.source { w.field("target", string: m.target) }
                        if m.optional { w.field("optional", raw: "true") }
                    }
                }
            }
            w.field("devices", strings: devices)
            w.field("limits") {
                w.object {
                    let cpus = Double(limits.maxMillicpus) / 1000
                    w.field("max_cpus", raw: cpus == cpus.rounded() ? String(Int(cpus)) : String(cpus))
                    w.field("max_memory", raw: String(limits.maxMemoryBytes))
                    w.field("max_pids", raw: String(limits.maxPids))
                    w.field("max_disk", raw: String(limits.maxDiskBytes))
                    w.field("max_wall_time", string: "\(limits.maxWallTimeMs)ms")
                    w.field("open_files", raw: String(limits.openFiles))
                    w.field("tmp_size", raw: String(limits.tmpSizeBytes))
                }
            }
            w.field("environment") {
                w.object {
                    for key in environment.keys.sorted() { w.field(key, string: environment[key]!) }
                }
            }
            w.field("seccomp") {
                w.object {
                    w.field("defaultAction", string: seccomp.defaultAction.rawValue)
                    w.field("defaultErrnoRet", raw: String(seccomp.defaultErrnoRet))
                    w.field("syscalls") {
                        w.array(seccomp.syscalls) { rule in
                            w.object {
                                if let comment = rule.comment { w.field("comment", string: comment) }
                                w.field("names", strings: rule.names)
                                w.field("action", string: rule.action.rawValue)
                                if let e = rule.errnoRet { w.field("errnoRet", raw: String(e)) }
                                if !rule.args.isEmpty {
                                    w.field("args") {
                                        w.array(rule.args) { a in
                                            w.object {
                                                w.field("index", raw: String(a.index))
                                                w.field("value", raw: String(a.value))
                                                if a.valueTwo != 0 { w.field("valueTwo", raw: String(a.valueTwo)) }
                                                w.field("op", string: a.op.rawValue)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return w.text + "\n"
    }
}

/// A small pretty-printing JSON writer: objects and arrays one item per line, arrays of strings on one.
final class JSONWriter {
    private(set) var text = ""
    private var depth = 0
    private var first = [true]

    private func item() {
        if !first[first.count - 1] { text += "," }
        first[first.count - 1] = false
        text += "\n" + String(repeating: "  ", count: depth)
    }

    func object(_ body: () -> Void) {
        text += "{"
        depth += 1
        first.append(true)
        body()
        let empty = first.removeLast()
        depth -= 1
        text += empty ? "}" : "\n" + String(repeating: "  ", count: depth) + "}"
    }

    func array<T>(_ items: [T], _ each: (T) -> Void) {
        text += "["
        depth += 1
        first.append(true)
        for x in items {
            item()
            each(x)
        }
        let empty = first.removeLast()
        depth -= 1
        text += empty ? "]" : "\n" + String(repeating: "  ", count: depth) + "]"
    }

    func field(_ key: String, _ value: () -> Void) {
        item()
        text += Self.quoted(key) + ": "
        value()
    }

    func field(_ key: String, raw: String) { field(key) { text += raw } }
    func field(_ key: String, string: String) { field(key, raw: Self.quoted(string)) }
    func field(_ key: String, strings: [String]) { field(key, raw: "[" + strings.map(Self.quoted).joined(separator: ", ") + "]") }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
