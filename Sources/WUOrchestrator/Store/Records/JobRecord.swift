import GRDB

/// One row of `job`.
struct JobRecord: Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "job"

    var id: Int64?
    var ownerTokenId: Int64
    /// The requester's name, which owns the job (any live token of that name sees it).
    var owner: String
    var name: String
    var version: String
    var state: String
    var resumeState: String?
    var priority: Int
    var signerKeyId: String
    var manifestDigest: String
    var signatureDigest: String
    var profile: String
    /// For a bundle carrying its own profile: JSON array of the base profiles it fits within.
    var profileBases: String? = nil
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
    /// `fail-job` (a failed unit fails the job at once) or `continue` (the other units go on).
    var onUnitFailure: String = "fail-job"

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension JobRecord {
    /// Decodes by column name, without Codable's key conversion (the hot path reads these often).
    init(row: Row) throws {
        id = row["id"]
        ownerTokenId = row["owner_token_id"]
        owner = row["owner"]
        name = row["name"]
        version = row["version"]
        state = row["state"]
        resumeState = row["resume_state"]
        priority = row["priority"]
        signerKeyId = row["signer_key_id"]
        manifestDigest = row["manifest_digest"]
        signatureDigest = row["signature_digest"]
        profile = row["profile"]
        profileBases = row["profile_bases"]
        millicpus = row["millicpus"]
        memoryBytes = row["memory_bytes"]
        diskBytes = row["disk_bytes"]
        wallTimeMs = row["wall_time_ms"]
        pids = row["pids"]
        gpus = row["gpus"]
        arch = row["arch"]
        replicas = row["replicas"]
        quorum = row["quorum"]
        hasAggregate = row["has_aggregate"]
        unitsTotal = row["units_total"]
        unitsValid = row["units_valid"]
        createdAt = row["created_at"]
        startedAt = row["started_at"]
        finishedAt = row["finished_at"]
        failureReason = row["failure_reason"]
        resultDigest = row["result_digest"]
        onUnitFailure = row["on_unit_failure"]
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["owner_token_id"] = ownerTokenId
        container["owner"] = owner
        container["name"] = name
        container["version"] = version
        container["state"] = state
        container["resume_state"] = resumeState
        container["priority"] = priority
        container["signer_key_id"] = signerKeyId
        container["manifest_digest"] = manifestDigest
        container["signature_digest"] = signatureDigest
        container["profile"] = profile
        container["profile_bases"] = profileBases
        container["millicpus"] = millicpus
        container["memory_bytes"] = memoryBytes
        container["disk_bytes"] = diskBytes
        container["wall_time_ms"] = wallTimeMs
        container["pids"] = pids
        container["gpus"] = gpus
        container["arch"] = arch
        container["replicas"] = replicas
        container["quorum"] = quorum
        container["has_aggregate"] = hasAggregate
        container["units_total"] = unitsTotal
        container["units_valid"] = unitsValid
        container["created_at"] = createdAt
        container["started_at"] = startedAt
        container["finished_at"] = finishedAt
        container["failure_reason"] = failureReason
        container["result_digest"] = resultDigest
        container["on_unit_failure"] = onUnitFailure
    }

    /// The row with this id, through a cached statement.
    static func find(_ db: Database, _ id: Int64) throws -> JobRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM job WHERE id = ?"), arguments: [id])
    }
}
