import GRDB

/// One row of `signing_key`.
struct SigningKeyRecord: Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "signing_key"

    var id: Int64?
    var name: String
    var keyId: String
    /// The `.pub` file's contents.
    var publicKey: String
    var createdAt: Int64

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension SigningKeyRecord {
    /// Decodes by column name, without Codable's key conversion (the hot path reads these often).
    init(row: Row) throws {
        id = row["id"]
        name = row["name"]
        keyId = row["key_id"]
        publicKey = row["public_key"]
        createdAt = row["created_at"]
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["name"] = name
        container["key_id"] = keyId
        container["public_key"] = publicKey
        container["created_at"] = createdAt
    }

    /// The row with this id, through a cached statement.
    static func find(_ db: Database, _ id: Int64) throws -> SigningKeyRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM signing_key WHERE id = ?"), arguments: [id])
    }
}
