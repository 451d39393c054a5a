import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where the orchestrator reads the time: milliseconds since the epoch.
///
/// Leases, heartbeats and the sweeper all use it, so lifecycle tests can move time by hand.
public protocol OrchestratorClock: Sendable {
    func now() -> Int64
}

/// The wall clock (`CLOCK_REALTIME`).
public struct SystemClock: OrchestratorClock {
    public init() {}

    public func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// A clock that moves only when told to: for tests.
public final class ManualClock: OrchestratorClock {
    private let current: Mutex<Int64>

    public init(start: Int64 = 1_800_000_000_000) { current = Mutex(start) }

    public func now() -> Int64 { current.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(seconds: Double) {
        current.withLock { $0 += Int64(seconds * 1000) }
    }
}
