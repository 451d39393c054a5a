import GRDB
import WUCore

/// `wu-orchestrator keys …`: the public keys whose signed jobs this orchestrator accepts.
public struct KeyAdmin: Sendable {
    public struct Listed: Sendable, Equatable {
        public let name: String
        public let keyID: String
        public let createdAt: Int64
    }

    let store: OrchestratorStore
    let clock: any OrchestratorClock

    public init(store: OrchestratorStore, clock: any OrchestratorClock = SystemClock()) {
        self.store = store
        self.clock = clock
    }

    /// Registers a key from the contents of its `.pub` file; returns its key id.
    @discardableResult
    public func add(name: String, publicKeyFile contents: String) throws -> String {
        guard !name.isEmpty, name.count <= 200 else { throw WUError(.invalidArgument, "a key needs a name of 1 to 200 characters") }
        let key = try PublicSigningKey(fileContents: contents)
        let keyID = key.keyID
        let now = clock.now()
        try store.pool.write { db in
            if try SigningKeyRecord.filter(Column("name") == name || Column("key_id") == keyID).fetchCount(db) > 0 {
                throw WUError(.invalidKey, "a key named '\(name)' or with id \(keyID) is already registered")
            }
            var record = SigningKeyRecord(id: nil, name: name, keyId: keyID, publicKey: key.fileContents, createdAt: now)
            try record.insert(db)
        }
        return keyID
    }

    public func list() throws -> [Listed] {
        try store.pool.read { db in
            try SigningKeyRecord.order(Column("name")).fetchAll(db).map { Listed(name: $0.name, keyID: $0.keyId, createdAt: $0.createdAt) }
        }
    }

    /// Removes the key with this name or key id.
    public func remove(_ nameOrKeyID: String) throws {
        let removed = try store.pool.write { db -> Int in
            try db.execute(sql: "DELETE FROM signing_key WHERE name = ? OR key_id = ?", arguments: [nameOrKeyID, nameOrKeyID])
            return db.changesCount
        }
        guard removed > 0 else { throw WUError(.invalidArgument, "no key is named '\(nameOrKeyID)' or has that id") }
    }

    /// Every registered key, as a trust store for verifying a submission.
    static func trustStore(_ db: Database) throws -> TrustStore {
        let keys = try SigningKeyRecord.fetchAll(db).compactMap { try? PublicSigningKey(fileContents: $0.publicKey) }
        return TrustStore(keys: keys)
    }
}
