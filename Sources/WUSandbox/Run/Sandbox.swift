import CSandbox
import Glibc
import Synchronization
import WUProtocol

/// Runs units in the sandbox a profile describes, under a volunteer cap.
///
/// ```swift
/// let cap = try VolunteerCap.create(name: "runner", limits: .init(memoryBytes: 4 << 30, millicpus: 2000))
/// let sandbox = try Sandbox(profile: .load(named: "default"), cap: cap)
/// let result = try await sandbox.run(SandboxRequest(command: ["/bin/sh", "-c", "echo hi"]))
/// ```
public struct Sandbox: Sendable {
    public let profile: SandboxProfile
    /// The profile's filter, as compiled.
    public let filter: SeccompFilter
    public let cap: VolunteerCap
    /// The program the unit's process installs: ``filter`` itself, or a version of it whose
    /// notified calls ``supervision`` answers.
    let installedFilter: SeccompFilter
    /// How a ``SyscallSupervisor`` answers the unit's notified calls; nil when nothing is notified.
    /// Report: the profile's filter with its errno returns notified, answered and counted (the
    /// denied-syscall report). Learn: every call notified and recorded; what the profile allows
    /// is let through, the rest gets its errno (`wu profile learn`).
    let supervision: SyscallSupervisor.Mode?
    /// Sandboxes made ahead of their units (nil: each unit's is made when it starts).
    let prepared: PreparedSandboxes?

    /// Compiles the profile's filter (or takes it from the cache).
    ///
    /// On a kernel with seccomp user notification, every denied call is also counted by name
    /// (``ResourceUsage/deniedSyscalls``); without it the filter is installed as is and the report
    /// stays empty.
    /// - Parameters:
    ///   - reportDeniedSyscalls: false installs the profile's filter as is (no report), for
    ///     benchmarks that measure what the report costs.
    ///   - prepareAhead: as root, how many sandboxes to keep set up ahead of their units (the
    ///     profile's part of the setup, made on a background thread while earlier units run; see
    ///     ``discardPrepared()``). 0: each unit's sandbox is made when it starts.
    public init(profile: SandboxProfile, cap: VolunteerCap, reportDeniedSyscalls: Bool = true, prepareAhead: Int = 0) throws(SandboxError) {
        self.profile = profile
        self.filter = try SeccompFilter.compile(profile)
        self.cap = cap
        let report = reportDeniedSyscalls && Self.canSupervise && filter.allowsListenerHandOver
        self.installedFilter = report ? filter.notifyingInsteadOf(action: SeccompFilter.Verdict.errno) : filter
        self.supervision = report ? .report(original: filter) : nil
        self.prepared = prepareAhead > 0 && geteuid() == 0 ? PreparedSandboxes(profile: profile, cap: cap, depth: prepareAhead) : nil
    }

    private init(profile: SandboxProfile, filter: SeccompFilter, cap: VolunteerCap, installedFilter: SeccompFilter, supervision: SyscallSupervisor.Mode) {
        self.profile = profile
        self.filter = filter
        self.cap = cap
        self.installedFilter = installedFilter
        self.supervision = supervision
        self.prepared = nil
    }

    /// Kills the sandboxes prepared ahead that no unit took, and prepares no more: call it before
    /// the cap is removed. Units keep running, each in a sandbox made when it starts.
    public func discardPrepared() {
        prepared?.close()
    }

    /// How many sandboxes are prepared and waiting (0 without ``init(profile:cap:reportDeniedSyscalls:prepareAhead:)``'s `prepareAhead`).
    public var preparedCount: Int { prepared?.readyCount ?? 0 }

    /// A sandbox for `wu profile learn`: `profile`'s mounts, namespaces and limits, and a filter
    /// that notifies every call; the supervisor records each and answers it with `profile`'s own
    /// verdict (let through when allowed, its errno when denied).
    /// - Throws: ``SandboxError`` `unsupported` when the kernel has no seccomp user notification.
    public static func learning(profile: SandboxProfile, cap: VolunteerCap) throws(SandboxError) -> Sandbox {
        guard canSupervise else {
            throw SandboxError(.unsupported, "learning a profile needs a kernel with seccomp user notification (see wu doctor)")
        }
        let base = try SeccompFilter.compile(profile)
        guard base.allowsListenerHandOver else {
            throw SandboxError(.unsupported, "'\(profile.name)' denies execve or exit_group, which learning needs")
        }
        let recording = try SeccompFilter.compileNow(profile.learningSeccomp(), origin: "\(profile.name) (learning)")
        return Sandbox(
            profile: profile,
            filter: base,
            cap: cap,
            installedFilter: recording.notifyingInsteadOf(action: SeccompFilter.Verdict.log),
            supervision: .learn(base: base)
        )
    }

    /// A kernel with seccomp user notification.
    static let canSupervise: Bool = wu_seccomp_kernel_support() & 2 != 0


    /// What a finished unit reports.
    public typealias Result = SandboxResult

    /// The uid and gid a unit has inside its user namespace (root runs only; rootless it is 0).
    public static let unitUID: UInt32 = UnitIdentity.unitUID

    /// Runs `request` to the end and reports its usage.
    ///
    /// The blocking part (spawn, waiting on the pidfd and the output pipes, the wall clock and the
    /// disk watchdog) runs on a thread of its own, never on the cooperative pool. Cancelling the
    /// task kills the unit. Whatever happens, the unit's cgroup is emptied and removed before this
    /// returns: nothing the unit started survives it.
    /// - Throws: ``SandboxError`` when the unit could not be started (limits above the profile's,
    ///   a setup stage that failed). A unit that fails, is killed or times out is not an error:
    ///   its ``Result`` says so.
    public func run(_ request: SandboxRequest) async throws(SandboxError) -> Result {
        let cancel = CancelSignal()
        let outcome: Swift.Result<Result, SandboxError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Swift.Result<Result, SandboxError>, Never>) in
                let work = execution(request, cancel: cancel)
                DedicatedThread.start {
                    continuation.resume(returning: work.execute())
                }
            }
        } onCancel: {
            cancel.fire()
        }
        return try outcome.get()
    }

    /// Runs `request` on the calling thread (for callers that own a thread, e.g. benchmarks).
    public func runBlocking(_ request: SandboxRequest) throws(SandboxError) -> Result {
        try runBlocking(request, cloned: nil)
    }

    /// ``runBlocking(_:)`` in `cloned` (an init cloned on this thread before the profile was
    /// loaded) unless a prepared sandbox is taken.
    func runBlocking(_ request: SandboxRequest, cloned: ClonedSandbox?) throws(SandboxError) -> Result {
        try execution(request, cancel: CancelSignal(), clonedAhead: cloned).execute().get()
    }

    private func execution(_ request: SandboxRequest, cancel: CancelSignal, clonedAhead: ClonedSandbox? = nil) -> UnitExecution {
        UnitExecution(
            profile: profile, cap: cap, filter: installedFilter, supervision: supervision, pool: prepared, request: request, cancel: cancel,
            clonedAhead: clonedAhead
        )
    }
}
