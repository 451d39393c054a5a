import CSandbox
import Glibc

/// A unit whose process has exec'd in its sandbox: what the caller holds of it until its init is
/// reaped.
struct StartedUnit {
    /// The init's pid in the host's pid namespace.
    let initPID: Int32
    let pidfd: Int32
    /// The status pipe: the unit's raw wait status, once the init has it.
    let statusFD: Int32
    /// The unit's seccomp listener (wu_sandbox_start hands it back), or -1.
    let listenerFD: Int32
    /// When the start began: the unit's wall clock runs from here.
    let startNs: Int64

    func close() {
        Glibc.close(pidfd)
        Glibc.close(statusFD)
        if listenerFD >= 0 { Glibc.close(listenerFD) }
    }
}

/// The unit's part of the config (argv, environment, working directory, rlimits, stdio, the
/// seccomp filter, the late mounts), handed to a configured sandbox's init with wu_sandbox_start,
/// which returns once the unit has exec'd.
struct UnitStart {
    let profile: SandboxProfile
    let request: SandboxRequest
    let limits: UnitLimits
    let identity: UnitIdentity
    /// The filter the unit's process installs.
    let filter: SeccompFilter
    /// Hand the filter's listener back (a ``SyscallSupervisor`` answers it).
    let wantsListener: Bool

    /// The profile's environment, `HOME`, then the request's on top, sorted.
    var environment: [String] {
        var environment = profile.environment
        environment["HOME"] = "/tmp"
        for (k, v) in request.environment { environment[k] = v }
        return environment.keys.sorted().map { "\($0)=\(environment[$0]!)" }
    }

    /// No core files, the profile's open files, and the unit's disk as its largest file when it
    /// has an `/out` (rlimits only lower).
    var rlimits: [wu_rlimit] {
        var rlimits: [wu_rlimit] = [
            wu_rlimit(resource: Int32(RLIMIT_CORE.rawValue), soft: 0, hard: 0),
            wu_rlimit(resource: Int32(RLIMIT_NOFILE.rawValue), soft: UInt64(profile.limits.openFiles), hard: UInt64(profile.limits.openFiles)),
        ]
        if request.outputDirectory != nil, limits.disk > 0 {
            rlimits.append(wu_rlimit(resource: Int32(RLIMIT_FSIZE.rawValue), soft: UInt64(limits.disk), hard: UInt64(limits.disk)))
        }
        return rlimits
    }

    /// Starts the unit in `sandboxInit`, which is consumed, started or not; the unit writes into
    /// `output`'s pipes (their write ends are closed here, either way).
    func start(_ sandboxInit: inout wu_prepared?, stdin: Int32, output: inout UnitOutput, late: LateMounts) throws(SandboxError) -> StartedUnit {
        let strings = CStrings()
        defer { strings.free() }
        let argv = strings.array(request.command)
        let envp = strings.array(environment)
        var rlimits = rlimits
        var lateMounts = strings.mounts(late.plan)

        let start = Monotonic.nowNs()
        var result = wu_spawn_result()
        let rc: Int32 = filter.bytes.withUnsafeBytes { bpf in
            lateMounts.withUnsafeMutableBufferPointer { lateBuf in
                rlimits.withUnsafeMutableBufferPointer { rlBuf in
                    var config = SandboxSetup.emptyConfig(strings)
                    config.argv = UnsafePointer(argv)
                    config.envp = UnsafePointer(envp)
                    config.cwd = strings.make(request.workingDirectory)
                    config.rlimits = UnsafePointer(rlBuf.baseAddress)
                    config.rlimit_count = Int32(rlBuf.count)
                    config.namespaces = SandboxSetup.namespaces
                    config.uid = identity.unitUID
                    config.gid = identity.unitUID
                    config.stdin_fd = stdin
                    config.stdout_fd = output.stdout.writeFD
                    config.stderr_fd = output.stderr.writeFD
                    config.seccomp_filter = bpf.baseAddress
                    config.seccomp_filter_len = bpf.count
                    config.cap_last_cap = SandboxSetup.capLastCap
                    config.seccomp_listener = wantsListener ? 1 : 0
                    config.late_mounts = UnsafePointer(lateBuf.baseAddress)
                    config.late_mount_count = Int32(lateBuf.count)
                    defer { sandboxInit = nil }  // consumed, started or not
                    return wu_sandbox_start(&sandboxInit!, &config, &result)
                }
            }
        }
        output.closeWriteEnds()
        guard rc == 0 else { throw startError(result) }
        return StartedUnit(initPID: result.pid, pidfd: result.pidfd, statusFD: result.status_fd, listenerFD: result.listener_fd, startNs: start)
    }

    /// What failed, at which stage of the setup, with a hint for the one failure users can fix.
    private func startError(_ result: wu_spawn_result) -> SandboxError {
        let detail = withUnsafeBytes(of: result.detail) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let stage = CSandboxBridge.stageName(result.stage)
        var hint = ""
        if result.stage == Int32(WU_STAGE_MOUNT) && result.error == EACCES {
            hint = "; every directory above a bound host path must be searchable (o+x) by the sandbox's unprivileged ids"
        }
        return SandboxError(
            .spawn,
            "could not start \(request.command[0]) in the sandbox" + (detail.isEmpty ? "" : " (\(detail))") + hint,
            stage: stage,
            errno: result.error
        )
    }
}
