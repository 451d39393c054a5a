import GRDB
import Testing

@testable import WUOrchestrator

#if canImport(Glibc)
import Glibc
#endif

extension OrchestratorTests {
    /// Group commit: writes that arrive while a transaction runs share the next one, each in its own savepoint.
    @Suite struct WriteBatcherTests {
        struct Boom: Error {}

        @Test func concurrentWritesShareOneTransactionAndAFailureUndoesOnlyItself() async throws {
            let h = try Harness()
            let store = h.orchestrator.store
            try await store.pool.write { db in try db.execute(sql: "CREATE TABLE t (v INTEGER NOT NULL)") }
            let before = store.batcher.totals
            let count = 20
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The first write holds the writer until every other write has queued behind it.
                group.addTask {
                    try await store.write { db in
                        try db.execute(sql: "INSERT INTO t (v) VALUES (0)")
                        var waited = 0
                        while store.batcher.pendingCount < count - 1 && waited < 10_000 {
                            usleep(1000)
                            waited += 1
                        }
                    }
                }
                while store.batcher.totals.transactions == before.transactions && store.batcher.pendingCount == 0 {
                    try await Task.sleep(for: .milliseconds(1))
                }
                for i in 1..<count {
                    group.addTask {
                        do {
                            try await store.write { db in
                                try db.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: [i])
                                if i == 7 { throw Boom() }
                            }
                        } catch is Boom {}
                    }
                }
                try await group.waitForAll()
            }
            let after = store.batcher.totals
            #expect(after.writes - before.writes == UInt64(count))
            #expect(after.transactions - before.transactions == 2)
            let values = try await store.pool.read { db in try Int.fetchAll(db, sql: "SELECT v FROM t ORDER BY v") }
            #expect(values == (0..<count).filter { $0 != 7 })
        }
    }
}
