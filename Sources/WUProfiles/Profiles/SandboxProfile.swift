import Glibc
import WUCore

/// A sandbox profile: everything a unit is allowed, in one reviewable JSON file.
///
/// Profiles ship in `sandbox-profiles/` and are built into the binary (see
/// ``SandboxProfile/builtin``); `--profile-dir` overrides them. Parsing is strict: an unknown key,
/// an unknown syscall name or an out-of-range value is an error, never a silently weaker sandbox.
public struct SandboxProfile: Sendable, Equatable {
    public var name: String
    public var description: String
    public var namespaces: [Namespace]
    /// Only `none` (the unit's own loopback) exists today.
    public var network: String
    public var hostname: String
    /// Host paths bound read-only (`nosuid,nodev`); a host symlink is replicated as a symlink.
    public var mounts: [Mount]
    /// Device nodes under `/dev`, by name, from the fixed set in ``SandboxProfile/knownDevices``.
    public var devices: [String]
    public var limits: Limits
    /// Variables every unit gets (the manifest's `env` comes on top).
    public var environment: [String: String]
    /// Changing it forgets ``sourceBytes``: they no longer describe this filter.
    public var seccomp: Seccomp {
        didSet { sourceBytes = [] }
    }
    /// The exact bytes the profile was read from (used as the key of the compiled-filter cache;
    /// empty for a profile made or changed in memory, whose filter is then never cached).
    public var sourceBytes: [UInt8]

    public enum Namespace: String, Sendable, Codable, CaseIterable {
        case user, pid, mount, net, uts, ipc, cgroup
    }

    public struct Mount: Sendable, Equatable {
        public var source: String
        public var target: String
        public var optional: Bool
    }

    /// Upper bounds on what a unit may request under this profile.
    public struct Limits: Sendable, Equatable {
        public var maxMillicpus: Int
        public var maxMemoryBytes: Int64
        public var maxPids: Int
        public var maxDiskBytes: Int64
        public var maxWallTimeMs: Int64
        /// RLIMIT_NOFILE of every unit.
        public var openFiles: Int
        /// Size of `/tmp` (a tmpfs counted in the unit's memory); never more than its memory.
        public var tmpSizeBytes: Int64
    }

    public struct Seccomp: Sendable, Equatable {
        public var defaultAction: Action
        public var defaultErrnoRet: Int
        public var syscalls: [Rule]

        public enum Action: String, Sendable {
            case allow = "SCMP_ACT_ALLOW"
            case errno = "SCMP_ACT_ERRNO"
            case kill = "SCMP_ACT_KILL"
            case killProcess = "SCMP_ACT_KILL_PROCESS"
            case killThread = "SCMP_ACT_KILL_THREAD"
            case trap = "SCMP_ACT_TRAP"
            case log = "SCMP_ACT_LOG"
        }

        public struct Rule: Sendable, Equatable {
            public var names: [String]
            public var action: Action
            public var errnoRet: Int?
            public var args: [Arg]
            public var comment: String?

            public init(names: [String], action: Action, errnoRet: Int? = nil, args: [Arg] = [], comment: String? = nil) {
                self.names = names
                self.action = action
                self.errnoRet = errnoRet
                self.args = args
                self.comment = comment
            }
        }

        public struct Arg: Sendable, Equatable {
            public var index: Int
            public var value: UInt64
            public var valueTwo: UInt64
            public var op: Op
        }

        public enum Op: String, Sendable {
            case ne = "SCMP_CMP_NE"
            case lt = "SCMP_CMP_LT"
            case le = "SCMP_CMP_LE"
            case eq = "SCMP_CMP_EQ"
            case ge = "SCMP_CMP_GE"
            case gt = "SCMP_CMP_GT"
            case maskedEq = "SCMP_CMP_MASKED_EQ"
        }
    }

    /// Devices a profile may list; each is bound from the host's `/dev`.
    public static let knownDevices: Set<String> = ["null", "zero", "full", "random", "urandom", "tty"]

    /// Parses a profile.
    ///
    /// - Parameters:
    ///   - bytes: The JSON text.
    ///   - origin: Where it came from, for error messages (a file path or `built-in`).
    /// - Throws: ``SandboxError`` with code `invalidProfile`, naming the bad key or value.
    public static func parse(_ bytes: [UInt8], origin: String) throws(SandboxError) -> SandboxProfile {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw SandboxError(.invalidProfile, "\(origin): not valid JSON (\(error))")
        }
        var parser = ProfileParser(origin: origin)
        var profile = try parser.profile(value)
        profile.sourceBytes = bytes
        return profile
    }

    /// The SHA-256 (hex) of `bytes` if they are exactly the built-in profile `name`'s text: computed
    /// when the binary was generated, so that a short-lived process loading a built-in profile never
    /// hashes it (SeccompFilter's cache key). Otherwise nil: hash them.
    public static func builtinSHA256(of bytes: [UInt8], named name: String) -> String? {
        guard let digest = builtinTextSHA256(named: name), var text = builtinSource(named: name) else { return nil }
        let same = text.withUTF8 { utf8 in
            bytes.withUnsafeBufferPointer { b in
                b.count == utf8.count && (b.isEmpty || memcmp(b.baseAddress!, utf8.baseAddress!, b.count) == 0)
            }
        }
        return same ? digest : nil
    }

    /// Loads the profile `name`: from `directory/<name>.json` when a directory is given and holds
    /// it, else the built-in one.
    ///
    /// - Throws: ``SandboxError`` `unknownProfile` when neither exists, `invalidProfile` when it is malformed.
    public static func load(named name: String, directory: String? = nil) throws(SandboxError) -> SandboxProfile {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw SandboxError(.unknownProfile, "invalid profile name '\(name)'")
        }
        if let directory {
            let path = directory + "/" + name + ".json"
            if let bytes = ProfileFiles.read(path) {
                let profile = try parse(bytes, origin: path)
                guard profile.name == name else {
                    throw SandboxError(.invalidProfile, "\(path): its \"name\" is '\(profile.name)', expected '\(name)'")
                }
                return profile
            }
        }
        guard let text = builtinSource(named: name) else {
            let known = builtinNames.joined(separator: ", ")
            throw SandboxError(.unknownProfile, "unknown sandbox profile '\(name)' (built in: \(known))")
        }
        // Built without parsing (CompiledProfileTests keeps the value equal to the parsed text).
        if var compiled = compiledBuiltin(named: name) {
            compiled.sourceBytes = Array(text.utf8)
            return compiled
        }
        return try parse(Array(text.utf8), origin: "built-in \(name).json")
    }
}

/// Turns a ``JSONValue`` into a profile, with a precise path in every error.
struct ProfileParser {
    let origin: String

    func fail(_ path: String, _ message: String) -> SandboxError {
        SandboxError(.invalidProfile, "\(origin): \(path): \(message)")
    }

    func object(_ v: JSONValue, _ path: String, allowed: Set<String>, required: Set<String>) throws(SandboxError) -> [String: JSONValue] {
        guard case .object(let dict) = v else { throw fail(path, "expected an object") }
        // Sorted only to name the first offender the same way every time; a valid object is not sorted.
        if dict.keys.contains(where: { !allowed.contains($0) }) {
            for key in dict.keys.sorted() where !allowed.contains(key) {
                throw fail(path, "unknown key \"\(key)\" (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
        if required.contains(where: { dict[$0] == nil }) {
            for key in required.sorted() where dict[key] == nil {
                throw fail(path, "missing key \"\(key)\"")
            }
        }
        return dict
    }

    func string(_ v: JSONValue?, _ path: String) throws(SandboxError) -> String {
        guard case .string(let s)? = v else { throw fail(path, "expected a string") }
        return s
    }

    func bool(_ v: JSONValue?, _ path: String) throws(SandboxError) -> Bool {
        guard case .bool(let b)? = v else { throw fail(path, "expected true or false") }
        return b
    }

    func uint(_ v: JSONValue?, _ path: String) throws(SandboxError) -> UInt64 {
        guard case .number(_, let text)? = v, let u = UInt64(text) else { throw fail(path, "expected a non-negative integer") }
        return u
    }

    /// A non-negative integer that fits an `Int` (counts, errno values, indexes); `Int(uint(…))` traps above `Int.max`.
    func int(_ v: JSONValue?, _ path: String) throws(SandboxError) -> Int {
        guard case .number(_, let text)? = v, let n = Int(text), n >= 0 else { throw fail(path, "expected a non-negative integer") }
        return n
    }

    func strings(_ v: JSONValue?, _ path: String) throws(SandboxError) -> [String] {
        guard case .array(let items)? = v else { throw fail(path, "expected an array of strings") }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            // The element's path is spelled out only for the error (hundreds of syscall names pass).
            guard case .string(let s) = item else { throw fail("\(path)[\(i)]", "expected a string") }
            out.append(s)
        }
        return out
    }

    func size(_ v: JSONValue?, _ path: String) throws(SandboxError) -> Int64 {
        if case .number(_, let text)? = v, let n = Int64(text), n > 0 { return n }
        let text = try string(v, path)
        do { return try ByteSize.parse(text) } catch { throw fail(path, "not a size: '\(text)' (\(error))") }
    }

    func duration(_ v: JSONValue?, _ path: String) throws(SandboxError) -> Int64 {
        let text = try string(v, path)
        do { return try DurationText.parseMilliseconds(text) } catch { throw fail(path, "not a duration: '\(text)' (\(error))") }
    }

    mutating func profile(_ v: JSONValue) throws(SandboxError) -> SandboxProfile {
        let keys: Set<String> = [
            "name", "description", "namespaces", "network", "hostname", "mounts", "devices", "limits", "environment", "seccomp",
        ]
        let o = try object(v, "$", allowed: keys, required: keys.subtracting(["description"]))
        let name = try string(o["name"], "name")
        var namespaces: [SandboxProfile.Namespace] = []
        for (i, n) in try strings(o["namespaces"], "namespaces").enumerated() {
            guard let ns = SandboxProfile.Namespace(rawValue: n) else { throw fail("namespaces[\(i)]", "unknown namespace '\(n)'") }
            namespaces.append(ns)
        }
        // A unit always gets every namespace: a profile may list them for the reviewer, never drop one.
        for ns in SandboxProfile.Namespace.allCases where !namespaces.contains(ns) {
            throw fail("namespaces", "'\(ns.rawValue)' is missing; every unit runs in all seven namespaces")
        }
        let network = try string(o["network"], "network")
        guard network == "none" else { throw fail("network", "only \"none\" is supported (the unit's own loopback)") }
        let hostname = try string(o["hostname"], "hostname")
        guard !hostname.isEmpty, hostname.utf8.count <= 64 else { throw fail("hostname", "must be 1 to 64 bytes") }

        guard case .array(let mountItems)? = o["mounts"] else { throw fail("mounts", "expected an array") }
        var mounts: [SandboxProfile.Mount] = []
        let reserved = ["/code", "/in", "/out", "/tmp", "/run", "/proc", "/dev", "/sys"]
        for (i, item) in mountItems.enumerated() {
            let path = "mounts[\(i)]"
            let m = try object(item, path, allowed: ["source", "target", "optional"], required: ["source"])
            let source = try string(m["source"], path + ".source")
            let target = m["target"] == nil ? source : try string(m["target"], path + ".target")
            let optional = m["optional"] == nil ? false : try bool(m["optional"], path + ".optional")
            for p in [source, target] where !p.hasPrefix("/") || p.split(separator: "/").contains("..") || p == "/" {
                throw fail(path, "'\(p)' must be an absolute path without '..' and not /")
            }
            for r in reserved where target == r || target.hasPrefix(r + "/") {
                throw fail(path + ".target", "'\(target)' is reserved for the sandbox's own \(r)")
            }
            mounts.append(.init(source: source, target: target, optional: optional))
        }
        let devices = try strings(o["devices"], "devices")
        for (i, d) in devices.enumerated() where !SandboxProfile.knownDevices.contains(d) {
            throw fail("devices[\(i)]", "unknown device '\(d)' (allowed: \(SandboxProfile.knownDevices.sorted().joined(separator: ", ")))")
        }

        let limitKeys: Set<String> = ["max_cpus", "max_memory", "max_pids", "max_disk", "max_wall_time", "open_files", "tmp_size"]
        let l = try object(o["limits"] ?? .null, "limits", allowed: limitKeys, required: limitKeys)
        guard case .number(let cpus, _)? = l["max_cpus"], cpus > 0, cpus <= 4096 else {
            throw fail("limits.max_cpus", "expected a number of CPUs > 0")
        }
        let limits = SandboxProfile.Limits(
            maxMillicpus: Int((cpus * 1000).rounded()),
            maxMemoryBytes: try size(l["max_memory"], "limits.max_memory"),
            maxPids: try int(l["max_pids"], "limits.max_pids"),
            maxDiskBytes: try size(l["max_disk"], "limits.max_disk"),
            maxWallTimeMs: try duration(l["max_wall_time"], "limits.max_wall_time"),
            openFiles: try int(l["open_files"], "limits.open_files"),
            tmpSizeBytes: try size(l["tmp_size"], "limits.tmp_size")
        )
        guard limits.maxPids >= 1, limits.openFiles >= 16 else { throw fail("limits", "max_pids must be ≥ 1 and open_files ≥ 16") }

        guard case .object(let envDict)? = o["environment"] else { throw fail("environment", "expected an object of strings") }
        var environment: [String: String] = [:]
        for (k, v) in envDict {
            guard !k.isEmpty, !k.contains("="), !k.contains("\0") else { throw fail("environment", "bad variable name '\(k)'") }
            environment[k] = try string(v, "environment.\(k)")
        }
        let seccomp = try self.seccomp(o["seccomp"] ?? .null)
        return SandboxProfile(
            name: name,
            description: o["description"] == nil ? "" : try string(o["description"], "description"),
            namespaces: namespaces,
            network: network,
            hostname: hostname,
            mounts: mounts,
            devices: devices,
            limits: limits,
            environment: environment,
            seccomp: seccomp,
            sourceBytes: []
        )
    }

    func action(_ v: JSONValue?, _ path: String) throws(SandboxError) -> SandboxProfile.Seccomp.Action {
        let text = try string(v, path)
        guard let a = SandboxProfile.Seccomp.Action(rawValue: text) else { throw fail(path, "unknown action '\(text)'") }
        return a
    }

    func seccomp(_ v: JSONValue) throws(SandboxError) -> SandboxProfile.Seccomp {
        let s = try object(v, "seccomp", allowed: ["defaultAction", "defaultErrnoRet", "syscalls"], required: ["defaultAction", "syscalls"])
        let defaultAction = try action(s["defaultAction"], "seccomp.defaultAction")
        guard defaultAction != .allow, defaultAction != .log else {
            throw fail("seccomp.defaultAction", "must deny (an allowlist); SCMP_ACT_ALLOW and SCMP_ACT_LOG are refused")
        }
        let defaultErrno = s["defaultErrnoRet"] == nil ? 1 : try int(s["defaultErrnoRet"], "seccomp.defaultErrnoRet")
        guard defaultErrno <= 4095 else { throw fail("seccomp.defaultErrnoRet", "must be ≤ 4095") }
        guard case .array(let items)? = s["syscalls"] else { throw fail("seccomp.syscalls", "expected an array") }
        var rules: [SandboxProfile.Seccomp.Rule] = []
        for (i, item) in items.enumerated() {
            let path = "seccomp.syscalls[\(i)]"
            let r = try object(item, path, allowed: ["names", "action", "errnoRet", "args", "comment"], required: ["names", "action"])
            let names = try strings(r["names"], path + ".names")
            guard !names.isEmpty else { throw fail(path + ".names", "is empty") }
            for name in names where SyscallNames.number(name) == nil {
                throw fail(path + ".names", "unknown syscall '\(name)'")
            }
            let act = try action(r["action"], path + ".action")
            let errnoRet = r["errnoRet"] == nil ? nil : try int(r["errnoRet"], path + ".errnoRet")
            if let errnoRet, errnoRet > 4095 { throw fail(path + ".errnoRet", "must be ≤ 4095") }
            var args: [SandboxProfile.Seccomp.Arg] = []
            if let argsValue = r["args"] {
                guard case .array(let argItems) = argsValue else { throw fail(path + ".args", "expected an array") }
                guard argItems.count <= 6 else { throw fail(path + ".args", "at most 6 conditions") }
                for (j, a) in argItems.enumerated() {
                    let ap = "\(path).args[\(j)]"
                    let ao = try object(a, ap, allowed: ["index", "value", "valueTwo", "op"], required: ["index", "value", "op"])
                    let index = try int(ao["index"], ap + ".index")
                    guard index <= 5 else { throw fail(ap + ".index", "must be 0…5") }
                    let opText = try string(ao["op"], ap + ".op")
                    guard let op = SandboxProfile.Seccomp.Op(rawValue: opText) else { throw fail(ap + ".op", "unknown operator '\(opText)'") }
                    let valueTwo = ao["valueTwo"] == nil ? 0 : try uint(ao["valueTwo"], ap + ".valueTwo")
                    if args.contains(where: { $0.index == index }) {
                        throw fail(ap + ".index", "a second condition on argument \(index) in one rule; write a second rule instead")
                    }
                    args.append(.init(index: index, value: try uint(ao["value"], ap + ".value"), valueTwo: valueTwo, op: op))
                }
            }
            let comment = r["comment"] == nil ? nil : try string(r["comment"], path + ".comment")
            rules.append(.init(names: names, action: act, errnoRet: errnoRet, args: args, comment: comment))
        }
        return .init(defaultAction: defaultAction, defaultErrnoRet: defaultErrno, syscalls: rules)
    }
}
