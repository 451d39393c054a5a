import GRDB
import WUCore

/// `wu-orchestrator token …`: create, list and revoke API tokens.
///
/// A token is `wu_` and 64 hex digits (256 random bits); only its SHA-256 is stored.
public struct TokenAdmin: Sendable {
    public struct Listed: Sendable, Equatable {
        public let id: Int64
        public let name: String
        public let role: Role
        public let createdAt: Int64
        public let revoked: Bool
    }

    let store: OrchestratorStore
    let clock: any OrchestratorClock

    public init(store: OrchestratorStore, clock: any OrchestratorClock = SystemClock()) {
        self.store = store
        self.clock = clock
    }

    static let prefix = "wu_"

    /// Creates a token and returns it: the only time its text is available.
    ///
    /// - Throws: `invalidArgument` when the name is empty, too long, or held by a live token.
    public func create(role: Role, name: String) throws -> String {
        guard !name.isEmpty, name.count <= 200 else { throw WUError(.invalidArgument, "a token needs a name of 1 to 200 characters") }
        let token = Self.prefix + Hex.random(bytes: 32)
        let now = clock.now()
        try store.pool.write { db in
            // The name is the identity that owns jobs: two live tokens of one name would be one person twice.
            if let live = try Int64.fetchOne(db, sql: "SELECT id FROM token WHERE name = ? AND revoked_at IS NULL", arguments: [name]) {
                throw WUError(
                    .invalidArgument,
                    "a live token is already named '\(name)' (id \(live)): revoke it first with `wu-orchestrator token revoke \(live)`, or choose another --name"
                )
            }
            var record = TokenRecord(id: nil, name: name, role: role.rawValue, hash: Hex.sha256(token), createdAt: now, revokedAt: nil)
            try record.insert(db)
        }
        return token
    }

    public func list() throws -> [Listed] {
        try store.pool.read { db in
            try TokenRecord.order(Column("id")).fetchAll(db).map {
                Listed(id: $0.id!, name: $0.name, role: Role(rawValue: $0.role) ?? .requester, createdAt: $0.createdAt, revoked: $0.revokedAt != nil)
            }
        }
    }

    /// Revokes every live token with this name or id; returns how many.
    @discardableResult
    public func revoke(_ nameOrID: String) throws -> Int {
        let now = clock.now()
        let count = try store.pool.write { db -> Int in
            try db.execute(
                sql: "UPDATE token SET revoked_at = ? WHERE revoked_at IS NULL AND (name = ? OR CAST(id AS TEXT) = ?)",
                arguments: [now, nameOrID, nameOrID]
            )
            return db.changesCount
        }
        guard count > 0 else { throw WUError(.invalidArgument, "no live token is named '\(nameOrID)' or has that id") }
        return count
    }

    /// The identity a token or session secret stands for, or nil.
    static func identify(_ db: Database, token: String, now: Int64) throws -> Identity? {
        let hash = Hex.sha256(token)
        let row: Row?
        if token.hasPrefix(prefix) {
            row = try db.row(sql: "SELECT id, name, role FROM token WHERE hash = ? AND revoked_at IS NULL", arguments: [hash])
        } else {
            row = try db.row(
                sql: """
                    SELECT t.id, t.name, t.role FROM session s JOIN token t ON t.id = s.token_id
                    WHERE s.hash = ? AND s.expires_at > ? AND t.revoked_at IS NULL
                    """,
                arguments: [hash, now]
            )
        }
        guard let row, let role = Role(rawValue: row["role"]) else { return nil }
        return Identity(tokenID: row["id"], name: row["name"], role: role)
    }
}
