import CSandbox
import Glibc

/// Why the watch killed a unit; more than one can apply, and each is reported.
struct KillReasons: OptionSet, Sendable {
    let rawValue: Int
    /// Its wall time ran out.
    static let wallClock = KillReasons(rawValue: 1 << 0)
    /// Its `/out`, or its progress file, grew past its limit.
    static let disk = KillReasons(rawValue: 1 << 1)
    /// The caller cancelled the run.
    static let cancel = KillReasons(rawValue: 1 << 2)
}

/// A started unit, watched until its init exits: one poll loop over the init's pidfd, the unit's
/// output, its `/out` (``DiskWatch``), its seccomp listener (``SyscallSupervisor``) and the
/// cancel eventfd, which kills the unit when its wall clock runs out, its disk limit is passed, or
/// the run is cancelled.
struct UnitWatch {
    private let started: StartedUnit
    private let progressFile: String?
    private let group: Cgroup?
    private let cancel: CancelSignal
    private let deadline: Int64
    private(set) var output: UnitOutput
    private(set) var supervisor: SyscallSupervisor?
    private var diskWatch: DiskWatch?
    private(set) var killed: KillReasons = []
    /// The most tasks the unit's cgroup was seen with (for hierarchies that do not count it).
    private(set) var peakPids: Int64 = 0
    /// No process uses the filter any more (the unit is gone, the init not yet).
    private var listenerHungUp = false
    private var nextSample: Int64

    init(_ started: StartedUnit, request: SandboxRequest, limits: UnitLimits, group: Cgroup?, supervision: SyscallSupervisor.Mode?, cancel: CancelSignal, output: UnitOutput) {
        self.started = started
        self.progressFile = request.progressFile
        self.group = group
        self.cancel = cancel
        self.output = output
        deadline = started.startNs + limits.wallMs * 1_000_000
        nextSample = started.startNs + 100_000_000  // a unit that ends sooner needs no sampling
        if started.listenerFD >= 0, let supervision {
            supervisor = SyscallSupervisor(listener: started.listenerFD, mode: supervision, millicpus: limits.millicpus, nowNs: started.startNs)
        }
        if let out = request.outputDirectory, limits.disk > 0 { diskWatch = DiskWatch(root: out, limit: limits.disk) }
        output.makeNonBlocking()
    }

    /// Watches until the init is reaped (or poll fails), then drains what the unit left in its
    /// pipes. Returns the init's raw wait status (0 when it was not reaped) and when it ended.
    mutating func run() -> (initStatus: Int32, endNs: Int64) {
        var initStatus: Int32? = nil
        while initStatus == nil {
            let now = Monotonic.nowNs()
            if now >= deadline { kill(for: .wallClock) }
            if now >= nextSample { sample(now) }
            if diskWatch != nil, !killed.contains(.disk) {
                diskWatch!.update()
                if diskWatch!.exceeded { kill(for: .disk) }
            }
            guard pollOnce(now) else { break }
            var status: Int32 = 0
            if wu_pidfd_reap(started.pidfd, &status) == 1 { initStatus = status }
        }
        let end = Monotonic.nowNs()
        output.drainAfterExit()
        diskWatch?.close()
        return (initStatus ?? 0, end)
    }

    /// Once per 100 ms: the cgroup's task count, and the progress file's size (it is on the
    /// runner's disk too: a number needs a few bytes).
    private mutating func sample(_ now: Int64) {
        nextSample = now + 100_000_000
        if let group {
            let u = group.usage()
            peakPids = max(peakPids, u.currentPids)
        }
        if let progressFile, !killed.contains(.disk) {
            var st = stat()
            if lstat(progressFile, &st) == 0, st.st_size > 64 * 1024 || st.st_blocks > 256 { kill(for: .disk) }
        }
    }

    /// One poll, and what it found: denied calls answered, output drained, a cancel acted on.
    /// False when poll failed.
    private mutating func pollOnce(_ now: Int64) -> Bool {
        var fds = [pollfd(fd: started.pidfd, events: Int16(POLLIN), revents: 0)] + output.pollDescriptors
        let watchDisk = !killed.contains(.disk)
        if let w = diskWatch, w.fd >= 0, watchDisk { fds.append(pollfd(fd: w.fd, events: Int16(POLLIN), revents: 0)) }
        // Denied calls wait for an answer; while the supervisor's budget is spent they wait longer.
        let watchListener = !listenerHungUp && (supervisor?.wantsPoll(nowNs: now) ?? false)
        if watchListener { fds.append(pollfd(fd: started.listenerFD, events: Int16(POLLIN), revents: 0)) }
        fds.append(pollfd(fd: cancel.descriptor, events: Int16(POLLIN), revents: 0))
        let remainingMs = max(0, (deadline - Monotonic.nowNs()) / 1_000_000)
        var timeout = Int32(min(100, remainingMs + 1))
        // Left out for its budget only: come back when the budget allows an answer again.
        if let supervisor, !watchListener, !listenerHungUp { timeout = min(timeout, max(1, supervisor.msUntilBudget)) }
        // A change seen but not yet measured (the walk waits for its share of the time).
        if let w = diskWatch?.msUntilWalk, watchDisk { timeout = min(timeout, w) }
        let r = poll(&fds, nfds_t(fds.count), timeout)
        if r < 0 && errno != EINTR { return false }
        if watchListener {
            let revents = fds[fds.count - 2].revents
            if revents & Int16(POLLIN) != 0 { supervisor?.serve(nowNs: Monotonic.nowNs()) }
            // Hung up: polling it again would return at once, and spin until the init is reaped.
            else if revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { listenerHungUp = true }
        }
        output.drain()
        if let last = fds.last, last.revents & Int16(POLLIN) != 0 { kill(for: .cancel) }
        return true
    }

    /// SIGKILL to the init (and with it the unit's pid namespace), once per reason.
    private mutating func kill(for reason: KillReasons) {
        guard !killed.contains(reason) else { return }
        killed.insert(reason)
        _ = wu_pidfd_send_signal(started.pidfd, SIGKILL)
    }
}
