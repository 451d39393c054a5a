import GRDB

/// One row of `session`.
struct SessionRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "session"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var hash: String
    var tokenId: Int64
    var createdAt: Int64
    var expiresAt: Int64

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
