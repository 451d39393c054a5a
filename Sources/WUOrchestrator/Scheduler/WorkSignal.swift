import Synchronization

/// Wakes long-polling claims when new work may be claimable.
///
/// A claim reads `generation`, tries, and if it got nothing waits until the generation moves
/// past what it read (or its deadline, or shutdown): no wake-up between the try and the wait is lost.
final class WorkSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var shutdown = false
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    var generation: UInt64 { state.withLock { $0.generation } }
    var isShutdown: Bool { state.withLock { $0.shutdown } }
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    func notify() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation &+= 1
            let waiters = Array(s.waiters.values)
            s.waiters = [:]
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func shutdown() {
        state.withLock { $0.shutdown = true }
        notify()
    }

    /// Waits until `notify` after `generation`, or `deadline`; true when notified.
    func wait(after generation: UInt64, until deadline: ContinuousClock.Instant) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.changed(after: generation)
                return true
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func changed(after generation: UInt64) async {
        let id = state.withLock { s -> UInt64 in
            s.nextWaiter &+= 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.generation != generation || s.shutdown || Task.isCancelled { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
