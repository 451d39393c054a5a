import GRDB

/// One row of `unit`.
struct UnitRecord: Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "unit"

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

extension UnitRecord {
    /// Decodes by column name, without Codable's key conversion (the hot path reads these often).
    init(row: Row) throws {
        id = row["id"]
        jobId = row["job_id"]
        name = row["name"]
        isAggregate = row["is_aggregate"]
        state = row["state"]
        copiesTotal = row["copies_total"]
        files = row["files"]
        canonicalCopyId = row["canonical_copy_id"]
        outputDigest = row["output_digest"]
        blobDigest = row["blob_digest"]
        failureReason = row["failure_reason"]
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["job_id"] = jobId
        container["name"] = name
        container["is_aggregate"] = isAggregate
        container["state"] = state
        container["copies_total"] = copiesTotal
        container["files"] = files
        container["canonical_copy_id"] = canonicalCopyId
        container["output_digest"] = outputDigest
        container["blob_digest"] = blobDigest
        container["failure_reason"] = failureReason
    }

    /// The row with this id, through a cached statement.
    static func find(_ db: Database, _ id: Int64) throws -> UnitRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM unit WHERE id = ?"), arguments: [id])
    }
}
