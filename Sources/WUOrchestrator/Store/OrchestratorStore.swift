public import GRDB
import WUCore

#if canImport(Glibc)
import Glibc
#endif

/// The orchestrator's SQLite database (WAL, via a GRDB `DatabasePool`) in `DIR/wu.sqlite`.
///
/// Opening it creates the directory and runs every migration. The server and the
/// `token`/`keys` commands open the same file; SQLite's locking lets them do it at once.
public final class OrchestratorStore: Sendable {
    public let pool: DatabasePool
    public let dataDirectory: String
    /// Group commits: concurrent writers share one transaction.
    let batcher: WriteBatcher

    public init(dataDirectory: String, synchronous: OrchestratorConfiguration.Synchronous = .normal) throws {
        self.dataDirectory = dataDirectory
        try Self.makeDirectory(dataDirectory)
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.maximumReaderCount = 8
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous == .full ? "FULL" : "NORMAL")")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        pool = try DatabasePool(path: dataDirectory + "/wu.sqlite", configuration: config)
        try Migrations.migrator.migrate(pool)
        batcher = WriteBatcher(pool: pool)
    }

    /// Writes through the group-commit batcher: `work` runs in a savepoint of a transaction it may share.
    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await batcher.write(work)
    }

    func read<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(work)
    }

    /// Folds the WAL back into the database file; called on graceful shutdown.
    public func checkpoint() throws {
        try pool.writeWithoutTransaction { db in
            _ = try db.checkpoint(.truncate)
        }
    }

    static func makeDirectory(_ path: String) throws {
        var components: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: false) {
            components.append(String(part))
            let prefix = components.joined(separator: "/")
            if prefix.isEmpty || prefix == "." { continue }
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw WUError(.io, "cannot create the data directory \(path)", cause: SystemCallError("mkdir", path: prefix, errno: errno))
            }
        }
    }
}
