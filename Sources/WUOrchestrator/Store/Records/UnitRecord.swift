import GRDB

/// One row of `unit`.
struct UnitRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "unit"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var jobId: Int64
    var name: String
    var isAggregate: Bool
    var state: String
    var copiesTotal: Int
    /// JSON array of `Assignment.FileRef`: the payload files this unit needs.
    var files: String
    var canonicalCopyId: Int64?
    var outputDigest: String?
    var blobDigest: String?
    var failureReason: String?

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
