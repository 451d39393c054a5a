import GRDB

/// One row of `assignment`.
struct AssignmentRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "assignment"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var copyId: Int64
    var unitId: Int64
    var runnerId: Int64
    /// `leased`, `completed`, `failed`, `released`, `expired`.
    var state: String
    var leasedAt: Int64
    var finishedAt: Int64?
    var outputDigest: String?
    var blobDigest: String?
    var usage: String?
    var failReason: String?
    /// False when the result came after the copy was decided or re-leased.
    var counted: Bool = true

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
