import CSandbox
import Glibc
import Synchronization
public import WUProtocol

/// Runs units in the sandbox a profile describes, under a volunteer cap.
///
/// ```swift
/// let cap = try VolunteerCap.create(name: "runner", limits: .init(memoryBytes: 4 << 30, millicpus: 2000))
/// let sandbox = try Sandbox(profile: .load(named: "default"), cap: cap)
/// let result = try await sandbox.run(SandboxRequest(command: ["/bin/sh", "-c", "echo hi"]))
/// ```
public struct Sandbox: Sendable {
    public let profile: SandboxProfile
    public let filter: SeccompFilter
    public let cap: VolunteerCap

    /// Compiles the profile's filter (or takes it from the cache).
    public init(profile: SandboxProfile, cap: VolunteerCap) throws(SandboxError) {
        self.profile = profile
        self.filter = try SeccompFilter.compile(profile)
        self.cap = cap
    }

    /// What a finished unit reports.
    public struct Result: Sendable {
        public var usage: ResourceUsage
        /// The host uid the unit ran as (inside it was ``unitUID``).
        public var hostUID: UInt32
        /// The init's pid in the host's pid namespace.
        public var initPID: Int32
    }

    /// The uid and gid a unit has inside its user namespace (root runs only; rootless it is 0).
    public static let unitUID: UInt32 = 1000

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
                let work = UnitExecution(sandbox: self, request: request, cancel: cancel)
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
        try UnitExecution(sandbox: self, request: request, cancel: CancelSignal()).execute().get()
    }
}

/// An eventfd the poll loop watches; firing it kills the unit.
final class CancelSignal: Sendable {
    private let fd = Mutex<Int32>(-1)

    init() {
        let e = wu_eventfd()
        fd.withLock { $0 = e }
    }

    var descriptor: Int32 { fd.withLock { $0 } }

    func fire() {
        fd.withLock { e in
            guard e >= 0 else { return }
            var one: UInt64 = 1
            _ = Glibc.write(e, &one, 8)
        }
    }

    deinit {
        fd.withLock { e in
            if e >= 0 { close(e) }
            e = -1
        }
    }
}

/// Starts a detached pthread running `body` (the spawning thread must live as long as the unit:
/// the init's parent-death signal follows the thread that cloned it).
enum DedicatedThread {
    final class Box: @unchecked Sendable {  // handed to exactly one new thread, then released there
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    static func start(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let rc = pthread_create(
            &thread,
            &attr,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            },
            box
        )
        pthread_attr_destroy(&attr)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).takeRetainedValue().body()
        }
    }
}
