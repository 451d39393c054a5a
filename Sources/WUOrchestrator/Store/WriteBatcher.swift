import GRDB
import Synchronization

/// Group commit: writes that arrive while a transaction is running share the next one.
///
/// SQLite has one writer. Instead of a transaction (and, with `synchronous=FULL`, an fsync) per
/// request, the first caller becomes the leader and runs every queued write in one transaction,
/// each in its own savepoint so one failing write does not undo the others; then it hands the
/// lead to the first write that queued meanwhile. No unstructured tasks: callers do the work.
final class WriteBatcher: Sendable {
    private typealias Work = @Sendable (Database) throws -> any Sendable

    private enum Outcome: Sendable {
        case finished(Result<any Sendable, any Error>)
        case lead
    }

    private struct Item: Sendable {
        let id: UInt64
        let work: Work
        var continuation: CheckedContinuation<Outcome, Never>?
    }

    private struct State {
        var queue: [Item] = []
        var leaderActive = false
        var nextID: UInt64 = 0
        var transactions: UInt64 = 0
        var writes: UInt64 = 0
    }

    private let pool: DatabasePool
    private let state = Mutex(State())

    init(pool: DatabasePool) { self.pool = pool }

    /// Writes waiting for the next transaction.
    var pendingCount: Int { state.withLock { $0.queue.count } }

    /// Transactions committed and writes they carried: their ratio is the group-commit factor.
    var totals: (transactions: UInt64, writes: UInt64) { state.withLock { ($0.transactions, $0.writes) } }

    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let erased: Work = { db in try work(db) }
        let (id, leads) = state.withLock { s -> (UInt64, Bool) in
            s.nextID += 1
            if s.leaderActive { return (s.nextID, false) }
            s.leaderActive = true
            s.queue.append(Item(id: s.nextID, work: erased, continuation: nil))
            return (s.nextID, true)
        }
        if !leads {
            let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                let leadNow = state.withLock { s -> Bool in
                    if s.leaderActive {
                        s.queue.append(Item(id: id, work: erased, continuation: continuation))
                        return false
                    }
                    s.leaderActive = true
                    s.queue.append(Item(id: id, work: erased, continuation: nil))
                    return true
                }
                if leadNow { continuation.resume(returning: .lead) }
            }
            if case .finished(let result) = outcome { return try result.get() as! T }
        }
        return try await lead(ownID: id).get() as! T
    }

    /// Runs everything queued in one transaction, answers every waiter, and passes the lead on.
    private func lead(ownID: UInt64) async -> Result<any Sendable, any Error> {
        let batch = state.withLock { s -> [Item] in
            let batch = s.queue
            s.queue = []
            s.transactions += 1
            s.writes += UInt64(batch.count)
            return batch
        }
        let works = batch.map(\.work)
        let results: [Result<any Sendable, any Error>]
        do {
            results = try await pool.write { db in
                var results: [Result<any Sendable, any Error>] = []
                results.reserveCapacity(works.count)
                for work in works {
                    var value: (any Sendable)?
                    do {
                        try db.inSavepoint {
                            value = try work(db)
                            return .commit
                        }
                        results.append(.success(value!))
                    } catch {
                        results.append(.failure(error))
                    }
                }
                return results
            }
        } catch {
            results = Array(repeating: .failure(error), count: batch.count)
        }
        var own: Result<any Sendable, any Error> = .failure(CancellationError())
        for (item, result) in zip(batch, results) {
            if item.id == ownID { own = result } else { item.continuation?.resume(returning: .finished(result)) }
        }
        let next = state.withLock { s -> CheckedContinuation<Outcome, Never>? in
            guard !s.queue.isEmpty else {
                s.leaderActive = false
                return nil
            }
            let continuation = s.queue[0].continuation
            s.queue[0].continuation = nil
            return continuation
        }
        next?.resume(returning: .lead)
        return own
    }
}
