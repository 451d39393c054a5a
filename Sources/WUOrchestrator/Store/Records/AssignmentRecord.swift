import GRDB

/// One row of `assignment`.
struct AssignmentRecord: Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "assignment"

    var id: Int64?
    var copyId: Int64
    var unitId: Int64
    var runnerId: Int64
    /// The runner's token: the volunteer, for quorum distinctness (NULL only for rows older than v3).
    var tokenId: Int64?
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

extension AssignmentRecord {
    /// Decodes by column name, without Codable's key conversion (the hot path reads these often).
    init(row: Row) throws {
        id = row["id"]
        copyId = row["copy_id"]
        unitId = row["unit_id"]
        runnerId = row["runner_id"]
        tokenId = row["token_id"]
        state = row["state"]
        leasedAt = row["leased_at"]
        finishedAt = row["finished_at"]
        outputDigest = row["output_digest"]
        blobDigest = row["blob_digest"]
        usage = row["usage"]
        failReason = row["fail_reason"]
        counted = row["counted"]
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["copy_id"] = copyId
        container["unit_id"] = unitId
        container["runner_id"] = runnerId
        container["token_id"] = tokenId
        container["state"] = state
        container["leased_at"] = leasedAt
        container["finished_at"] = finishedAt
        container["output_digest"] = outputDigest
        container["blob_digest"] = blobDigest
        container["usage"] = usage
        container["fail_reason"] = failReason
        container["counted"] = counted
    }

    /// The row with this id, through a cached statement.
    static func find(_ db: Database, _ id: Int64) throws -> AssignmentRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM assignment WHERE id = ?"), arguments: [id])
    }
}
