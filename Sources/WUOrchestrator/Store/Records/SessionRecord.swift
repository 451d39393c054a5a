import GRDB

/// One row of `session`.
struct SessionRecord: Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "session"

    var id: Int64?
    var hash: String
    var tokenId: Int64
    var createdAt: Int64
    var expiresAt: Int64

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension SessionRecord {
    /// Decodes by column name, without Codable's key conversion (the hot path reads these often).
    init(row: Row) throws {
        id = row["id"]
        hash = row["hash"]
        tokenId = row["token_id"]
        createdAt = row["created_at"]
        expiresAt = row["expires_at"]
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["hash"] = hash
        container["token_id"] = tokenId
        container["created_at"] = createdAt
        container["expires_at"] = expiresAt
    }

    /// The row with this id, through a cached statement.
    static func find(_ db: Database, _ id: Int64) throws -> SessionRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM session WHERE id = ?"), arguments: [id])
    }
}
