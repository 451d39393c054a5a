import GRDB

/// One row of `token`.
struct TokenRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "token"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var name: String
    var role: String
    var hash: String
    var createdAt: Int64
    var revokedAt: Int64?

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
