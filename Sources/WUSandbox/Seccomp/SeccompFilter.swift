import CSandbox
import WUProfiles
import Glibc
import Synchronization
import WUCore

/// A seccomp filter compiled to classic BPF (an array of `struct sock_filter`), ready for the
/// child to install with `seccomp(SECCOMP_SET_MODE_FILTER)`.
public struct SeccompFilter: Sendable, Equatable {
    /// The BPF program bytes (8 bytes per instruction).
    public let bytes: [UInt8]

    /// Compiles the seccomp section of `profile` with libseccomp.
    ///
    /// Results are kept in memory per process and, when running as root, in a root-owned cache
    /// directory (`/var/cache/wu/seccomp/<sha256 of the profile>-abi<CSandbox ABI>-libseccomp<version>.bpf`), so that a
    /// short-lived `wu sandbox exec` does not compile the same filter at every start. A cache
    /// file is used only if it is owned by root and writable by no one else.
    /// - Throws: ``SandboxError`` `invalidProfile` naming the rule libseccomp refused.
    public static func compile(_ profile: SandboxProfile, cacheDirectory: String? = defaultCacheDirectory) throws(SandboxError) -> SeccompFilter {
        // A profile made in memory (no source bytes) has no key: never cached.
        guard !profile.sourceBytes.isEmpty else { return try compileNow(profile.seccomp, origin: profile.name) }
        let digest = SandboxProfile.builtinSHA256(of: profile.sourceBytes, named: profile.name) ?? Digest.sha256(profile.sourceBytes)
        let key = digest + "-abi\(wu_sandbox_abi_version())-libseccomp\(wu_seccomp_library_version())"
        if let hit = memoryCache.withLock({ $0[key] }) { return hit }
        let path = cacheDirectory.map { $0 + "/" + key + ".bpf" }
        if let path, let cached = readTrustedCache(path) {
            let filter = SeccompFilter(bytes: cached)
            memoryCache.withLock { $0[key] = filter }
            return filter
        }
        let filter = try compileNow(profile.seccomp, origin: profile.name)
        memoryCache.withLock { $0[key] = filter }
        if let cacheDirectory, let path, geteuid() == 0 {
            // Best effort: a cache that cannot be written only costs time.
            try? FileSystem.makeDirectories(cacheDirectory, mode: 0o755)
            try? FileSystem.writeFile(path, filter.bytes, mode: 0o644)
        }
        return filter
    }

    /// Where compiled filters are cached when running as root.
    public static let defaultCacheDirectory: String? = geteuid() == 0 ? "/var/cache/wu/seccomp" : nil

    private static let memoryCache = Mutex<[String: SeccompFilter]>([:])

    private static func readTrustedCache(_ path: String) -> [UInt8]? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == 0, st.st_mode & 0o022 == 0 else { return nil }
        var dirStat = stat()
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        guard stat(dir, &dirStat) == 0, dirStat.st_uid == 0, dirStat.st_mode & 0o022 == 0 else { return nil }
        guard let bytes = FileSystem.readFile(path), !bytes.isEmpty, bytes.count % 8 == 0 else { return nil }
        return bytes
    }

    static func compileNow(_ seccomp: SandboxProfile.Seccomp, origin: String) throws(SandboxError) -> SeccompFilter {
        func cAction(_ a: SandboxProfile.Seccomp.Action) -> Int32 {
            switch a {
            case .allow: Int32(WU_SECCOMP_ALLOW)
            case .errno: Int32(WU_SECCOMP_ERRNO)
            case .kill, .killThread: Int32(WU_SECCOMP_KILL_THREAD)
            case .killProcess: Int32(WU_SECCOMP_KILL_PROCESS)
            case .trap: Int32(WU_SECCOMP_TRAP)
            case .log: Int32(WU_SECCOMP_LOG)
            }
        }
        func cOp(_ op: SandboxProfile.Seccomp.Op) -> Int32 {
            switch op {
            case .ne: Int32(WU_CMP_NE)
            case .lt: Int32(WU_CMP_LT)
            case .le: Int32(WU_CMP_LE)
            case .eq: Int32(WU_CMP_EQ)
            case .ge: Int32(WU_CMP_GE)
            case .gt: Int32(WU_CMP_GT)
            case .maskedEq: Int32(WU_CMP_MASKED_EQ)
            }
        }
        // Flatten: one C rule per (rule, name); args in one buffer that outlives the call.
        var flat: [(ruleIndex: Int, name: String, syscall: Int32, action: Int32, errnoRet: Int32, args: [wu_seccomp_arg])] = []
        for (i, rule) in seccomp.syscalls.enumerated() {
            let args = rule.args.map { wu_seccomp_arg(index: UInt32($0.index), op: cOp($0.op), value: $0.value, value_two: $0.valueTwo) }
            for name in rule.names {
                guard let nr = SyscallNames.number(name) else {
                    throw SandboxError(.invalidProfile, "\(origin): seccomp.syscalls[\(i)]: unknown syscall '\(name)'")
                }
                let errnoRet = Int32(rule.errnoRet ?? seccomp.defaultErrnoRet)
                flat.append((i, name, nr, cAction(rule.action), errnoRet, args))
            }
        }
        let argCount = flat.reduce(0) { $0 + $1.args.count }
        let argBuffer = UnsafeMutablePointer<wu_seccomp_arg>.allocate(capacity: max(argCount, 1))
        defer { argBuffer.deallocate() }
        var rules: [wu_seccomp_rule] = []
        var offset = 0
        for f in flat {
            for (j, a) in f.args.enumerated() { (argBuffer + offset + j).initialize(to: a) }
            rules.append(
                wu_seccomp_rule(
                    syscall: f.syscall,
                    action: f.action,
                    errno_ret: f.errnoRet,
                    args: f.args.isEmpty ? nil : UnsafePointer(argBuffer + offset),
                    arg_count: Int32(f.args.count)
                )
            )
            offset += f.args.count
        }
        var out: UnsafeMutableRawPointer? = nil
        var outLen = 0
        var failed: Int32 = -1
        var error: Int32 = 0
        let defaultAction = cAction(seccomp.defaultAction)
        let rc = rules.withUnsafeBufferPointer { buf in
            wu_seccomp_compile(defaultAction, Int32(seccomp.defaultErrnoRet), buf.baseAddress, Int32(buf.count), &out, &outLen, &failed, &error)
        }
        guard rc == 0, let out else {
            if failed >= 0 && Int(failed) < flat.count {
                let f = flat[Int(failed)]
                throw SandboxError(
                    .invalidProfile,
                    "\(origin): seccomp.syscalls[\(f.ruleIndex)]: libseccomp refused the rule for '\(f.name)'",
                    errno: error
                )
            }
            throw SandboxError(.invalidProfile, "\(origin): libseccomp could not compile the filter", errno: error)
        }
        defer { free(out) }
        let bytes = Array(UnsafeRawBufferPointer(start: out, count: outLen))
        return SeccompFilter(bytes: bytes)
    }
}
