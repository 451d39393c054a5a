import Glibc

/// One run of one unit, in phases: claim its sandbox and cgroup, build the mount plan, configure,
/// start, watch, collect, tear down. Blocking; runs on its own thread (its init dies with it).
struct UnitExecution: Sendable {
    let profile: SandboxProfile
    let cap: VolunteerCap
    /// The filter the unit's process installs (the profile's, or one that notifies).
    let filter: SeccompFilter
    /// How the unit's notified calls are answered; nil when nothing is notified.
    let supervision: SyscallSupervisor.Mode?
    /// Sandboxes prepared ahead; nil: each unit's is made at its start.
    let pool: PreparedSandboxes?
    let request: SandboxRequest
    let cancel: CancelSignal
    /// An init the caller cloned for this unit before loading its profile (`wu sandbox exec`), used
    /// when no prepared sandbox is taken; otherwise one is cloned at the start of the unit.
    var clonedAhead: ClonedSandbox? = nil

    func execute() -> Swift.Result<SandboxResult, SandboxError> {
        do {
            return .success(try executeOrThrow())
        } catch {
            return .failure(error)
        }
    }

    private func executeOrThrow() throws(SandboxError) -> SandboxResult {
        guard !request.command.isEmpty else { throw SandboxError(.invalidLimits, "no command to run") }
        let cpuStart = Self.threadCPUNs()
        let limits = try UnitLimits(profile: profile, request: request)
        let stdin = try request.checkedStandardInput()

        var claim = UnitClaim(pool: pool, clonedAhead: clonedAhead)
        defer { claim.tearDown() }
        try request.giveWritablePaths(to: claim.identity)
        try claim.claimCgroup(limits.cgroup, cap: cap)

        let tmpBytes = min(profile.limits.tmpSizeBytes, limits.memory)
        if !claim.wasPrepared {
            try claim.configure(profile, mounts: try MountPlan.madeAtStart(profile, request, unitUID: claim.identity.unitUID, tmpBytes: tmpBytes))
        }

        var output = try UnitOutput(tailBytes: request.tailBytes, echo: request.echoOutput)
        defer { output.close() }
        let late = try claim.wasPrepared ? LateMounts(request, tmpBytes: tmpBytes) : LateMounts.empty
        defer { late.close() }
        let unitStart = UnitStart(
            profile: profile, request: request, limits: limits, identity: claim.identity, filter: filter, wantsListener: supervision != nil
        )
        let started = try unitStart.start(&claim.sandboxInit, stdin: stdin, output: &output, late: late)
        defer { started.close() }

        var watch = UnitWatch(
            started, request: request, limits: limits, group: claim.group?.group, supervision: supervision, cancel: cancel, output: output
        )
        let (initStatus, endNs) = watch.run()

        let report = UnitReport(request: request, limits: limits, started: started, watch: watch)
        return SandboxResult(
            usage: report.usage(initStatus: initStatus, endNs: endNs, group: claim.group),
            hostUID: claim.identity.hostUID,
            initPID: started.initPID,
            learnedSyscalls: report.learnedSyscalls,
            runnerCPUNs: Self.threadCPUNs() - cpuStart,
            wasPrepared: claim.wasPrepared
        )
    }

    /// CPU time of the calling thread.
    static func threadCPUNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
