import GRDB

/// One row of `copy`.
struct CopyRecord: Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "copy"

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

extension CopyRecord {
    /// Decodes by column name, without Codable's key conversion (the hot path reads these often).
    init(row: Row) throws {
        id = row["id"]
        jobId = row["job_id"]
        unitId = row["unit_id"]
        state = row["state"]
        attempts = row["attempts"]
        runnerId = row["runner_id"]
        assignmentId = row["assignment_id"]
        leasedAt = row["leased_at"]
        leaseExpiresAt = row["lease_expires_at"]
        progress = row["progress"]
        outputDigest = row["output_digest"]
        blobDigest = row["blob_digest"]
        usage = row["usage"]
        failReason = row["fail_reason"]
        createdAt = row["created_at"]
        finishedAt = row["finished_at"]
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["job_id"] = jobId
        container["unit_id"] = unitId
        container["state"] = state
        container["attempts"] = attempts
        container["runner_id"] = runnerId
        container["assignment_id"] = assignmentId
        container["leased_at"] = leasedAt
        container["lease_expires_at"] = leaseExpiresAt
        container["progress"] = progress
        container["output_digest"] = outputDigest
        container["blob_digest"] = blobDigest
        container["usage"] = usage
        container["fail_reason"] = failReason
        container["created_at"] = createdAt
        container["finished_at"] = finishedAt
    }

    /// The row with this id, through a cached statement.
    static func find(_ db: Database, _ id: Int64) throws -> CopyRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM copy WHERE id = ?"), arguments: [id])
    }
}
