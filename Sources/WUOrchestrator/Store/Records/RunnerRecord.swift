import GRDB

/// One row of `runner`.
struct RunnerRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "runner"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var tokenId: Int64
    var name: String
    var millicpus: Int
    var memoryBytes: Int64
    var diskBytes: Int64
    var gpus: Int
    var arch: String
    /// JSON array of profile names.
    var profiles: String
    var version: String
    var registeredAt: Int64
    var lastSeenAt: Int64
    var reputation: Int = 0
    var consecutiveValid: Int = 0
    var validCount: Int = 0
    var invalidCount: Int = 0

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
