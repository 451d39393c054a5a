import CSandbox
import Glibc
import Synchronization
import WUCore
import WUProtocol

/// One run of one unit: plan, spawn, watch, account, tear down. Blocking; runs on its own thread.
struct UnitExecution: Sendable {
    let sandbox: Sandbox
    let request: SandboxRequest
    let cancel: CancelSignal
    /// An init the caller cloned for this unit before loading its profile (`wu sandbox exec`), used
    /// when no prepared sandbox is taken; otherwise one is cloned at the start of the unit.
    var cloned: ClonedSandbox? = nil

    /// The effective limits: the request's, bounded by the profile's maximum.
    func effectiveLimits() throws(SandboxError) -> (memory: Int64, millicpus: Int, pids: Int, disk: Int64, wallMs: Int64) {
        let p = sandbox.profile.limits
        let l = request.limits
        func check<T: Comparable>(_ name: String, _ v: T?, _ max: T) throws(SandboxError) -> T {
            guard let v else { return max }
            guard v <= max else { throw SandboxError(.invalidLimits, "\(name) \(v) is above the '\(sandbox.profile.name)' profile's maximum \(max)") }
            return v
        }
        let r = (
            memory: try check("memory", l.memoryBytes, p.maxMemoryBytes), millicpus: try check("millicpus", l.millicpus, p.maxMillicpus),
            pids: try check("pids", l.pids, p.maxPids), disk: try check("disk", l.diskBytes, p.maxDiskBytes),
            wallMs: try check("wall time (ms)", l.wallTimeMs, p.maxWallTimeMs)
        )
        guard r.memory >= 1 << 20, r.millicpus >= 10, r.pids >= 1, r.disk >= 0, r.wallMs > 0 else {
            throw SandboxError(.invalidLimits, "limits too small: memory ≥ 1M, cpus ≥ 0.01, pids ≥ 1, wall time > 0")
        }
        return r
    }

    func execute() -> Swift.Result<Sandbox.Result, SandboxError> {
        do {
            return .success(try executeOrThrow())
        } catch {
            return .failure(error)
        }
    }

    private func executeOrThrow() throws(SandboxError) -> Sandbox.Result {
        guard !request.command.isEmpty else { throw SandboxError(.invalidLimits, "no command to run") }
        let cpuStart = UnitExecution.threadCPUNs()
        let limits = try effectiveLimits()
        var stdinFD: Int32 = -1
        if let fd = request.stdinDescriptor {
            guard isatty(fd) == 0 else { throw SandboxError(.invalidLimits, "refusing to give the unit a terminal as its standard input") }
            stdinFD = fd
        }
        if let out = request.outputDirectory, !FileSystem.isDirectory(out) {
            throw SandboxError(.io, "output directory \(out) does not exist")
        }

        // A sandbox prepared ahead (its ids, cgroup and root made while earlier units ran), or a
        // new one. Either way the unit's cgroup (a reused slot on v1) is emptied, and removed or
        // unlocked, when this returns. See UnitCgroup and PreparedSandboxes.
        let prepared = sandbox.prepared?.take()
        defer { sandbox.prepared?.replenish() }  // last, once the unit's group is released
        let identity = prepared?.identity ?? UnitIdentity.next()
        var unitGroup: UnitCgroup? = prepared?.unitGroup
        defer { unitGroup?.release() }
        var shell = prepared?.shell
        defer { if shell != nil { wu_sandbox_discard(&shell!) } }
        // Without a prepared one, the init is cloned now (or was, by the caller): it makes its
        // network namespace while the cgroup is claimed and the config made. If cloning fails,
        // the sandbox is made in one go below, which reports why.
        let early = cloned?.take()
        if prepared == nil {
            shell = early ?? (try? SandboxSetup.clone())
        } else if var unused = early {
            wu_sandbox_discard(&unused)  // not kept idle for the unit's life
        }

        // The unit's writable host paths belong to its host uid.
        if let out = request.outputDirectory, !identity.rootless, chown(out, identity.hostUID, identity.hostGID) != 0 {
            throw SandboxError(.io, "chown \(out)", errno: errno)
        }
        if let progress = request.progressFile {
            if !FileSystem.exists(progress) {
                let fd = open(progress, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
                if fd >= 0 { close(fd) }
            }
            if !identity.rootless, chown(progress, identity.hostUID, identity.hostGID) != 0 {
                throw SandboxError(.io, "chown \(progress)", errno: errno)
            }
        }

        // The unit's limits, before any of its code runs: a prepared group gets them now, a new one
        // before its init is configured (and joins it).
        let groupLimits = Cgroup.Limits(memoryBytes: limits.memory, millicpus: limits.millicpus, pids: limits.pids)
        if let unitGroup {
            try unitGroup.group.apply(groupLimits, reused: true)
        } else if prepared == nil, let capGroup = sandbox.cap.cgroup {
            unitGroup = try UnitCgroup.claim(under: capGroup, name: "unit-\(getpid())-\(identity.number)", limits: groupLimits)
        }
        let group = unitGroup?.group
        let tmpBytes = min(sandbox.profile.limits.tmpSizeBytes, limits.memory)
        // A new sandbox starts its setup now: its init does the profile's part (the unit's
        // directories included, bound before pivot_root) while the unit's part is made here.
        if prepared == nil {
            let plan = try UnitExecution.profileMounts(sandbox.profile, unitUID: identity.unitUID) + unitMounts(tmpBytes: tmpBytes)
            if shell != nil {
                try SandboxSetup.configure(&shell!, sandbox.profile, mounts: plan, identity: identity, group: group)  // discards it on failure
            } else {
                shell = try SandboxSetup.prepare(sandbox.profile, mounts: plan, identity: identity, group: group)
            }
        }
        let attachLate = prepared != nil

        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard wu_pipe_cloexec(&outPipe) == 0 else { throw SandboxError(.io, "pipe", errno: errno) }
        guard wu_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0])
            close(outPipe[1])
            throw SandboxError(.io, "pipe", errno: errno)
        }
        var outOpen = true
        var errOpen = true
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }

        var environment = sandbox.profile.environment
        environment["HOME"] = "/tmp"
        for (k, v) in request.environment { environment[k] = v }
        let envList = environment.keys.sorted().map { "\($0)=\(environment[$0]!)" }

        var rlimits: [wu_rlimit] = [
            wu_rlimit(resource: Int32(RLIMIT_CORE.rawValue), soft: 0, hard: 0),
            wu_rlimit(
                resource: Int32(RLIMIT_NOFILE.rawValue),
                soft: UInt64(sandbox.profile.limits.openFiles),
                hard: UInt64(sandbox.profile.limits.openFiles)
            ),
        ]
        if request.outputDirectory != nil, limits.disk > 0 {
            rlimits.append(wu_rlimit(resource: Int32(RLIMIT_FSIZE.rawValue), soft: UInt64(limits.disk), hard: UInt64(limits.disk)))
        }

        let strings = CStrings()
        defer { strings.free() }
        let argv = strings.array(request.command)
        let envp = strings.array(envList)
        // A sandbox prepared ahead has the profile's part; the unit's directories are bound here (in
        // the host's mount namespace) and attached inside after pivot_root.
        var attached: [Int32] = []
        defer { for fd in attached { close(fd) } }
        var late: [PlannedMount] = []
        if attachLate {
            late = unitMounts(tmpBytes: tmpBytes).filter { $0.kind != Int32(WU_MOUNT_DIR) }
            // The binds become detached mounts; the tmpfs mounts are made inside.
            for i in late.indices where late[i].kind == Int32(WU_MOUNT_BIND_RO) || late[i].kind == Int32(WU_MOUNT_BIND_RW) {
                let writable = late[i].kind == Int32(WU_MOUNT_BIND_RW)
                let fd = wu_open_tree(late[i].source!, writable ? 1 : 0)
                guard fd >= 0 else { throw SandboxError(.spawn, "cannot bind \(late[i].source!) for the unit", errno: errno) }
                attached.append(fd)
                late[i] = PlannedMount(kind: Int32(WU_MOUNT_ATTACH), optional: false, target: late[i].target, fd: fd)
            }
        }
        var lateMounts = strings.mounts(late)

        let start = Monotonic.nowNs()
        var result = wu_spawn_result()
        let rc: Int32 = sandbox.installedFilter.bytes.withUnsafeBytes { bpf in
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
                    config.stdin_fd = stdinFD
                    config.stdout_fd = outPipe[1]
                    config.stderr_fd = errPipe[1]
                    config.seccomp_filter = bpf.baseAddress
                    config.seccomp_filter_len = bpf.count
                    config.cap_last_cap = SandboxSetup.capLastCap
                    config.seccomp_listener = sandbox.supervision == nil ? 0 : 1
                    config.late_mounts = UnsafePointer(lateBuf.baseAddress)
                    config.late_mount_count = Int32(lateBuf.count)
                    defer { shell = nil }  // consumed, started or not
                    return wu_sandbox_start(&shell!, &config, &result)
                }
            }
        }
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            let detail = withUnsafeBytes(of: result.detail) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            let stage = CSandboxBridge.stageName(result.stage)
            var hint = ""
            if result.stage == Int32(WU_STAGE_MOUNT) && result.error == EACCES {
                hint = "; every directory above a bound host path must be searchable (o+x) by the sandbox's unprivileged ids"
            }
            throw SandboxError(
                .spawn,
                "could not start \(request.command[0]) in the sandbox" + (detail.isEmpty ? "" : " (\(detail))") + hint,
                stage: stage,
                errno: result.error
            )
        }
        let pidfd = result.pidfd
        let statusFD = result.status_fd
        let listenerFD = result.listener_fd
        defer {
            close(pidfd)
            close(statusFD)
            if listenerFD >= 0 { close(listenerFD) }
        }
        var supervisor: SyscallSupervisor? = nil
        var listenerHungUp = false
        if listenerFD >= 0, let mode = sandbox.supervision {
            supervisor = SyscallSupervisor(listener: listenerFD, mode: mode, millicpus: limits.millicpus, nowNs: start)
        }
        _ = fcntl(outPipe[0], F_SETFL, fcntl(outPipe[0], F_GETFL) | O_NONBLOCK)
        _ = fcntl(errPipe[0], F_SETFL, fcntl(errPipe[0], F_GETFL) | O_NONBLOCK)

        var stdoutTail = TailBuffer(capacity: request.tailBytes)
        var stderrTail = TailBuffer(capacity: request.tailBytes)
        var buffer = [UInt8](repeating: 0, count: 65536)
        func drain(_ fd: Int32, _ tail: inout TailBuffer, echo: Int32) -> Bool {
            // Reads what is there; false at EOF. At most 1 MiB per call so the clock keeps ticking.
            var budget = 16
            while budget > 0 {
                budget -= 1
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    buffer.withUnsafeBytes { raw in
                        let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                        tail.append(chunk)
                        if echo >= 0 { _ = Glibc.write(echo, chunk.baseAddress, chunk.count) }
                    }
                    continue
                }
                if n == 0 { return false }
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK
            }
            return true
        }

        var diskWatch: DiskWatch? = nil
        if let out = request.outputDirectory, limits.disk > 0 { diskWatch = DiskWatch(root: out, limit: limits.disk) }
        defer { diskWatch?.close() }
        let deadline = start + limits.wallMs * 1_000_000
        var timedOut = false
        var diskExceeded = false
        var cancelled = false
        var peakPids: Int64 = 0
        var nextWatch = start + 100_000_000  // a unit that ends sooner needs no sampling
        var exited = false
        var initStatus: Int32 = 0
        func killUnit() {
            _ = wu_pidfd_send_signal(pidfd, SIGKILL)
        }

        while !exited {
            let now = Monotonic.nowNs()
            if now >= deadline && !timedOut {
                timedOut = true
                killUnit()
            }
            if now >= nextWatch {
                nextWatch = now + 100_000_000
                if let group {
                    let u = group.usage()
                    peakPids = max(peakPids, u.currentPids)
                }
                // The progress file is on the runner's disk too: a number needs a few bytes.
                if let progress = request.progressFile, !diskExceeded {
                    var st = stat()
                    if lstat(progress, &st) == 0, st.st_size > 64 * 1024 || st.st_blocks > 256 {
                        diskExceeded = true
                        killUnit()
                    }
                }
            }
            if diskWatch != nil, !diskExceeded {
                diskWatch!.update()
                if diskWatch!.exceeded {
                    diskExceeded = true
                    killUnit()
                }
            }
            var fds = [pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
            if outOpen { fds.append(pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0)) }
            if errOpen { fds.append(pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)) }
            if let w = diskWatch, w.fd >= 0, !diskExceeded { fds.append(pollfd(fd: w.fd, events: Int16(POLLIN), revents: 0)) }
            // Denied calls wait for an answer; while the supervisor's budget is spent they wait longer.
            let watchListener = !listenerHungUp && (supervisor?.wantsPoll(nowNs: now) ?? false)
            if watchListener { fds.append(pollfd(fd: listenerFD, events: Int16(POLLIN), revents: 0)) }
            fds.append(pollfd(fd: cancel.descriptor, events: Int16(POLLIN), revents: 0))
            let remainingMs = max(0, (deadline - Monotonic.nowNs()) / 1_000_000)
            var timeout = Int32(min(100, remainingMs + 1))
            // Left out for its budget only: come back when the budget allows an answer again.
            if let supervisor, !watchListener, !listenerHungUp { timeout = min(timeout, max(1, supervisor.msUntilBudget)) }
            // A change seen but not yet measured (the walk waits for its share of the time).
            if let w = diskWatch?.msUntilWalk, !diskExceeded { timeout = min(timeout, w) }
            let r = poll(&fds, nfds_t(fds.count), timeout)
            if r < 0 && errno != EINTR { break }
            if watchListener {
                let revents = fds[fds.count - 2].revents
                if revents & Int16(POLLIN) != 0 { supervisor?.serve(nowNs: Monotonic.nowNs()) }
                // Hung up: no process uses the filter any more (the unit is gone, the init not yet).
                // Polling it again would return at once, and spin until the init is reaped.
                else if revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { listenerHungUp = true }
            }
            if outOpen { outOpen = drain(outPipe[0], &stdoutTail, echo: request.echoOutput ? 1 : -1) }
            if errOpen { errOpen = drain(errPipe[0], &stderrTail, echo: request.echoOutput ? 2 : -1) }
            if let last = fds.last, last.revents & Int16(POLLIN) != 0, !cancelled {
                cancelled = true
                killUnit()
            }
            var status: Int32 = 0
            if wu_pidfd_reap(pidfd, &status) == 1 {
                initStatus = status
                exited = true
            }
        }
        let end = Monotonic.nowNs()
        // The init is gone, so is its pid namespace: the pipes reach EOF at once. Bound the wait anyway.
        let drainDeadline = Monotonic.nowNs() + 500_000_000
        while (outOpen || errOpen) && Monotonic.nowNs() < drainDeadline {
            var fds: [pollfd] = []
            if outOpen { fds.append(pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0)) }
            if errOpen { fds.append(pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)) }
            _ = poll(&fds, nfds_t(fds.count), 50)
            if outOpen { outOpen = drain(outPipe[0], &stdoutTail, echo: request.echoOutput ? 1 : -1) }
            if errOpen { errOpen = drain(errPipe[0], &stderrTail, echo: request.echoOutput ? 2 : -1) }
        }

        var usage = ResourceUsage()
        usage.wallMs = (end - start) / 1_000_000
        if let u = unitGroup?.usage() {
            usage.cpuUserMs = u.cpuUserMs
            usage.cpuSystemMs = u.cpuSystemMs
            usage.peakMemoryBytes = u.peakMemoryBytes
            usage.peakPids = u.peakPids ?? max(peakPids, 1)
            usage.oomKilled = u.oomKills > 0
        }
        // The unit's own status, from the init; without it (the init was killed) the init's.
        var unitStatus: Int32 = 0
        let got = read(statusFD, &unitStatus, 4)
        let status = got == 4 ? unitStatus : initStatus
        if wu_wifexited(status) != 0 {
            usage.exitCode = wu_wexitstatus(status)
        } else if wu_wifsignaled(status) != 0 {
            usage.signal = wu_wtermsig(status)
        }
        usage.timedOut = timedOut
        usage.diskExceeded = diskExceeded
        if let out = request.outputDirectory {
            // Past the limit the walk stops: the unit failed anyway, and its bytes are then "at least".
            let u = DirectoryTree.usage(of: out, stopAbove: limits.disk > 0 ? limits.disk : .max)
            usage.outputBytes = u.fileBytes
            if limits.disk > 0, u.allocated > limits.disk { usage.diskExceeded = true }
        }
        if !usage.diskExceeded, usage.signal == Int32(SIGXFSZ) { usage.diskExceeded = true }
        usage.stdoutTail = stdoutTail.text
        usage.stderrTail = stderrTail.text
        if cancelled && !timedOut && !diskExceeded {
            usage.stderrTail += stderrTail.text.isEmpty ? "wu: cancelled" : "\nwu: cancelled"
        }
        var learned: [ResourceUsage.DeniedSyscall] = []
        if let supervisor {
            switch supervisor.mode {
            case .report: usage.deniedSyscalls = supervisor.named
            case .learn: learned = supervisor.named
            }
        }
        return Sandbox.Result(
            usage: usage,
            hostUID: identity.hostUID,
            initPID: result.pid,
            learnedSyscalls: learned,
            runnerCPUNs: UnitExecution.threadCPUNs() - cpuStart,
            wasPrepared: prepared != nil
        )
    }

    /// CPU time of the calling thread.
    static func threadCPUNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// The mount point the child puts its root tmpfs on (only inside its own mount namespace).
    static func rootDirectory() throws(SandboxError) -> String {
        let dir = geteuid() == 0 ? "/run/wu/sandbox-root" : "/tmp/wu-\(geteuid())/sandbox-root"
        if !FileSystem.isDirectory(dir) { try FileSystem.makeDirectories(dir, mode: 0o755) }
        return dir
    }

    struct PlannedMount {
        var kind: Int32
        var optional: Bool
        var source: String? = nil
        var target: String
        var data: String? = nil
        /// WU_MOUNT_ATTACH: the detached mount (wu_open_tree).
        var fd: Int32 = -1
    }

    /// The profile's part of the mount plan, the same for each of its units: its binds, the
    /// generated /etc files, /proc with its masks, /dev with its own ptys.
    static func profileMounts(_ profile: SandboxProfile, unitUID: UInt32) throws(SandboxError) -> [PlannedMount] {
        var plan: [PlannedMount] = []
        for m in profile.mounts {
            if FileSystem.isSymlink(m.source), let link = FileSystem.readLink(m.source) {
                // `/bin -> usr/bin`: replicate the link; the real tree comes with its own bind.
                plan.append(.init(kind: Int32(WU_MOUNT_SYMLINK), optional: false, source: link, target: m.target))
            } else if FileSystem.exists(m.source) {
                plan.append(.init(kind: Int32(WU_MOUNT_BIND_RO), optional: m.optional, source: m.source, target: m.target))
            } else if !m.optional {
                throw SandboxError(.unsupported, "the '\(profile.name)' profile binds \(m.source), which this host does not have")
            }
        }
        // What programs expect to find about their host and its users, generated (see UnitEtc).
        plan += UnitEtc.mounts(profile, unitUID: unitUID)
        plan.append(.init(kind: Int32(WU_MOUNT_PROC), optional: false, target: "/proc"))
        for p in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs", "/proc/kcore", "/proc/timer_list"] {
            plan.append(.init(kind: Int32(WU_MOUNT_REMOUNT_RO), optional: true, target: p))
        }
        plan.append(.init(kind: Int32(WU_MOUNT_TMPFS), optional: false, target: "/dev", data: "size=64k,nr_inodes=64,mode=0755"))
        for d in profile.devices {
            plan.append(.init(kind: Int32(WU_MOUNT_DEVICE), optional: false, source: "/dev/" + d, target: "/dev/" + d))
        }
        plan += UnitEtc.devptsMounts
        plan.append(.init(kind: Int32(WU_MOUNT_SYMLINK), optional: false, source: "/proc/self/fd", target: "/dev/fd"))
        for (i, name) in ["stdin", "stdout", "stderr"].enumerated() {
            plan.append(.init(kind: Int32(WU_MOUNT_SYMLINK), optional: false, source: "/proc/self/fd/\(i)", target: "/dev/" + name))
        }
        return plan
    }

    /// Where a prepared sandbox attaches a unit's part later: its mount points, made before the
    /// root turns read-only.
    static let unitMountPoints: [PlannedMount] = ["/tmp", "/code", "/in", "/out"].map {
        PlannedMount(kind: Int32(WU_MOUNT_DIR), optional: false, target: $0)
    } + [PlannedMount(kind: Int32(WU_MOUNT_FILE), optional: false, target: "/run/wu/progress", data: "")]

    /// The unit's part of the mount plan: /tmp, /dev/shm, and its directories (empty ones where it
    /// has none).
    func unitMounts(tmpBytes: Int64) -> [PlannedMount] {
        var plan: [PlannedMount] = []
        plan.append(
            .init(kind: Int32(WU_MOUNT_TMPFS), optional: false, target: "/tmp", data: "size=\(max(tmpBytes, 4096)),nr_inodes=65536,mode=1777")
        )
        plan.append(UnitEtc.shm(bytes: tmpBytes))
        func bind(_ source: String?, _ target: String, writable: Bool) {
            if let source {
                plan.append(.init(kind: Int32(writable ? WU_MOUNT_BIND_RW : WU_MOUNT_BIND_RO), optional: false, source: source, target: target))
            } else {
                plan.append(.init(kind: Int32(WU_MOUNT_DIR), optional: false, target: target))
            }
        }
        bind(request.codeDirectory, "/code", writable: false)
        bind(request.inputDirectory, "/in", writable: false)
        bind(request.outputDirectory, "/out", writable: true)
        if let progress = request.progressFile {
            plan.append(.init(kind: Int32(WU_MOUNT_BIND_RW), optional: false, source: progress, target: "/run/wu/progress"))
        } else {
            plan.append(.init(kind: Int32(WU_MOUNT_DIR), optional: false, target: "/run/wu"))
        }
        return plan
    }
}

/// C strings that live until ``free()``: built in the parent, read by the child after clone.
final class CStrings {
    private var owned: [UnsafeMutablePointer<CChar>] = []
    private var arrays: [UnsafeMutablePointer<UnsafePointer<CChar>?>] = []
    private var numbers: [UnsafeMutablePointer<Int32>] = []

    func make(_ s: String) -> UnsafePointer<CChar> {
        let p = strdup(s)!
        owned.append(p)
        return UnsafePointer(p)
    }

    /// A NULL-terminated array of C strings.
    func array(_ items: [String]) -> UnsafeMutablePointer<UnsafePointer<CChar>?> {
        let a = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: items.count + 1)
        for (i, s) in items.enumerated() { a[i] = make(s) }
        a[items.count] = nil
        arrays.append(a)
        return a
    }

    /// A copy of `values` (nil when empty).
    func integers(_ values: [Int32]) -> UnsafePointer<Int32>? {
        guard !values.isEmpty else { return nil }
        let a = UnsafeMutablePointer<Int32>.allocate(capacity: values.count)
        a.initialize(from: values, count: values.count)
        numbers.append(a)
        return UnsafePointer(a)
    }

    /// The plan as C sees it (its strings live until ``free()``).
    func mounts(_ plan: [UnitExecution.PlannedMount]) -> [wu_mount] {
        plan.map {
            wu_mount(
                kind: $0.kind,
                optional: $0.optional ? 1 : 0,
                source: $0.source.map { make($0) },
                target: make($0.target),
                data: $0.data.map { make($0) },
                fd: $0.fd
            )
        }
    }

    func free() {
        for p in owned { Glibc.free(p) }
        for a in arrays { a.deallocate() }
        for a in numbers { a.deallocate() }
        owned = []
        arrays = []
        numbers = []
    }
}
