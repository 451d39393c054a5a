import GRDB

/// One row of `runner`.
struct RunnerRecord: Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "runner"

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

extension RunnerRecord {
    /// Decodes by column name, without Codable's key conversion (the hot path reads these often).
    init(row: Row) throws {
        id = row["id"]
        tokenId = row["token_id"]
        name = row["name"]
        millicpus = row["millicpus"]
        memoryBytes = row["memory_bytes"]
        diskBytes = row["disk_bytes"]
        gpus = row["gpus"]
        arch = row["arch"]
        profiles = row["profiles"]
        version = row["version"]
        registeredAt = row["registered_at"]
        lastSeenAt = row["last_seen_at"]
        reputation = row["reputation"]
        consecutiveValid = row["consecutive_valid"]
        validCount = row["valid_count"]
        invalidCount = row["invalid_count"]
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["token_id"] = tokenId
        container["name"] = name
        container["millicpus"] = millicpus
        container["memory_bytes"] = memoryBytes
        container["disk_bytes"] = diskBytes
        container["gpus"] = gpus
        container["arch"] = arch
        container["profiles"] = profiles
        container["version"] = version
        container["registered_at"] = registeredAt
        container["last_seen_at"] = lastSeenAt
        container["reputation"] = reputation
        container["consecutive_valid"] = consecutiveValid
        container["valid_count"] = validCount
        container["invalid_count"] = invalidCount
    }

    /// The row with this id, through a cached statement.
    static func find(_ db: Database, _ id: Int64) throws -> RunnerRecord? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM runner WHERE id = ?"), arguments: [id])
    }
}
