import GRDB

/// One row of `token`.
struct TokenRecord: Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "token"

    var id: Int64?
    var name: String
    var role: String
    var hash: String
    var createdAt: Int64
    var revokedAt: Int64?

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension TokenRecord {
    /// Decodes by column name, without Codable's key conversion (the hot path reads these often).
    init(row: Row) throws {
        id = row["id"]
        name = row["name"]
        role = row["role"]
        hash = row["hash"]
        createdAt = row["created_at"]
        revokedAt = row["revoked_at"]
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["name"] = name
        container["role"] = role
        container["hash"] = hash
        container["created_at"] = createdAt
        container["revoked_at"] = revokedAt
    }

    /// The row with this id, through a cached statement.
    static func find(_ db: Database, _ id: Int64) throws -> TokenRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM token WHERE id = ?"), arguments: [id])
    }
}
