import GRDB

/// One row of `copy`.
struct CopyRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "copy"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var jobId: Int64
    var unitId: Int64
    var state: String
    var attempts: Int = 0
    var runnerId: Int64?
    var assignmentId: Int64?
    var leasedAt: Int64?
    var leaseExpiresAt: Int64?
    var progress: Double?
    var outputDigest: String?
    var blobDigest: String?
    /// JSON `ResourceUsage`.
    var usage: String?
    var failReason: String?
    var createdAt: Int64
    var finishedAt: Int64?

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
