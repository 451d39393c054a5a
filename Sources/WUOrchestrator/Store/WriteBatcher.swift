import GRDB
import Synchronization

/// Group commit: writes that arrive while a transaction is running share the next one.
///
/// SQLite has one writer. Instead of a transaction (and, with `synchronous=FULL`, an fsync) per
/// request, queued writes run together in one transaction on GRDB's writer queue, each in its own
/// savepoint so one failing write does not undo the others. Waiters are resumed from the writer
/// queue right after the commit; the queue keeps draining while writes keep arriving. No
/// unstructured tasks: the work runs on GRDB's serial writer queue.
final class WriteBatcher: Sendable {
    private typealias Work = @Sendable (Database) throws -> any Sendable

    private struct Item: Sendable {
        let work: Work
        let continuation: CheckedContinuation<any Sendable, any Error>
    }

    private struct State {
        var queue: [Item] = []
        /// A drain is scheduled on, or running on, the writer queue.
        var draining = false
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
        let value = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let schedule = state.withLock { s -> Bool in
                s.queue.append(Item(work: { db in try work(db) }, continuation: continuation))
                if s.draining { return false }
                s.draining = true
                return true
            }
            if schedule {
                pool.asyncWriteWithoutTransaction { db in self.drain(db) }
            }
        }
        return value as! T
    }

    /// On the writer queue: commits batches until nothing is queued.
    private func drain(_ db: Database) {
        while true {
            let batch = state.withLock { s -> [Item] in
                let batch = s.queue
                s.queue = []
                if batch.isEmpty {
                    s.draining = false
                } else {
                    s.transactions += 1
                    s.writes += UInt64(batch.count)
                }
                return batch
            }
            if batch.isEmpty { return }
            var results: [Result<any Sendable, any Error>] = []
            results.reserveCapacity(batch.count)
            do {
                try db.inTransaction(.immediate) {
                    for item in batch {
                        var value: (any Sendable)?
                        do {
                            try db.inSavepoint {
                                value = try item.work(db)
                                return .commit
                            }
                            results.append(.success(value!))
                        } catch {
                            results.append(.failure(error))
                        }
                    }
                    return .commit
                }
            } catch {
                results = Array(repeating: .failure(error), count: batch.count)
            }
            for (item, result) in zip(batch, results) { item.continuation.resume(with: result) }
        }
    }
}
