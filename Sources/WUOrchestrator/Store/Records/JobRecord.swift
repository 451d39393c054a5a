import GRDB

/// One row of `job`.
struct JobRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "job"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var ownerTokenId: Int64
    var name: String
    var version: String
    var state: String
    var resumeState: String?
    var priority: Int
    var signerKeyId: String
    var manifestDigest: String
    var signatureDigest: String
    var profile: String
    var millicpus: Int
    var memoryBytes: Int64
    var diskBytes: Int64
    var wallTimeMs: Int64
    var pids: Int
    var gpus: Int
    var arch: String?
    var replicas: Int
    var quorum: Int
    var hasAggregate: Bool
    var unitsTotal: Int
    var unitsValid: Int = 0
    var createdAt: Int64
    var startedAt: Int64?
    var finishedAt: Int64?
    var failureReason: String?
    var resultDigest: String?

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
