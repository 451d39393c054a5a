import GRDB
import HTTPTypes

/// Volunteers: who counts as one for quorum, what their runner ids share, and how many ids one may hold.
///
/// A volunteer is a runner token (DESIGN.md "Work unit lifecycle"): one token registers as many runner
/// ids as it likes, so counting ids would let one volunteer fill a quorum alone. With
/// `--distinct-by runner` (an operator's own trusted pool sharing one token) each runner id is one.
/// Reputation always belongs to the token, so registering a new id never resets it.
extension Scheduler {
    /// The `assignment` column that names a copy's volunteer under the configured rule.
    static func volunteerColumn(_ config: OrchestratorConfiguration) -> String { volunteerColumn(config.distinctBy) }

    static func volunteerColumn(_ rule: OrchestratorConfiguration.DistinctBy) -> String {
        rule == .token ? "token_id" : "runner_id"
    }

    /// The SQL naming the volunteer of the `runner` row aliased `alias` under the configured rule.
    static func volunteerOfRunner(_ alias: String, _ config: OrchestratorConfiguration) -> String {
        config.distinctBy == .token ? "\(alias).token_id" : "\(alias).id"
    }

    /// The volunteer a runner belongs to under the configured rule.
    static func volunteer(of runner: RunnerRecord, _ config: OrchestratorConfiguration) -> Int64 { volunteer(of: runner, config.distinctBy) }

    static func volunteer(of runner: RunnerRecord, _ rule: OrchestratorConfiguration.DistinctBy) -> Int64 {
        rule == .token ? runner.tokenId : runner.id!
    }

    /// Refuses a new runner id once the token holds `maxRunnersPerToken` runners that are not offline.
    ///
    /// "Not offline" is `runnerStatus`'s rule: seen within 4× the heartbeat TTL, or holding a lease. A
    /// runner restarting under its previous id is not counted again (it does not come here).
    static func checkRunnerLimit(_ tx: Transaction, _ identity: Identity) throws {
        let cutoff = tx.now - 4 * Int64(tx.config.heartbeatTTLSeconds) * 1000
        let held =
            try tx.db.int(
                sql: """
                    SELECT COUNT(*) FROM runner r WHERE r.token_id = ?
                      AND (r.last_seen_at > ? OR EXISTS (SELECT 1 FROM copy c WHERE c.runner_id = r.id AND c.state = 'leased'))
                    """,
                arguments: [identity.tokenID, cutoff]
            ) ?? 0
        let limit = tx.config.maxRunnersPerToken
        guard held < limit else {
            throw APIError(
                .tooManyRequests, "too-many-runners",
                "token '\(identity.name)' already holds \(held) runners, the most this orchestrator allows (--max-runners-per-token \(limit)); "
                    + "restart a runner with its previous runner_id, or register once one has been silent for \(4 * tx.config.heartbeatTTLSeconds) s"
            )
        }
    }

    /// Moves the reputation of the volunteer (token) a runner belongs to: valid +reward, invalid −penalty.
    static func credit(_ tx: Transaction, runner: Int64, valid: Bool) throws {
        let change =
            valid
            ? "reputation = reputation + ?, consecutive_valid = consecutive_valid + 1, valid_count = valid_count + 1"
            : "reputation = reputation - ?, consecutive_valid = 0, invalid_count = invalid_count + 1"
        let token = try tx.db.int(sql: "SELECT token_id FROM runner WHERE id = ?", arguments: [runner])
        try tx.db.run(sql: "INSERT OR IGNORE INTO volunteer (token_id) VALUES (?)", arguments: [token])
        try tx.db.run(
            sql: "UPDATE volunteer SET \(change) WHERE token_id = ?",
            arguments: [valid ? tx.config.validReward : tx.config.invalidPenalty, token]
        )
    }

    /// How many registered volunteers (live tokens) have produced no output for this unit yet.
    ///
    /// When none is left, another copy could only go to someone who already answered: the unit ends.
    static func volunteersWithoutOutput(_ tx: Transaction, unitID: Int64) throws -> Int {
        let volunteer = volunteerOfRunner("r", tx.config)
        let produced = "\(volunteerOfRunner("p", tx.config)) = \(volunteer)"
        return try tx.db.int(
            sql: """
                SELECT COUNT(DISTINCT \(volunteer)) FROM runner r JOIN token t ON t.id = r.token_id
                WHERE t.revoked_at IS NULL AND NOT EXISTS (
                    SELECT 1 FROM copy c JOIN runner p ON p.id = c.runner_id
                    WHERE c.unit_id = ? AND c.state = 'uploaded' AND \(produced))
                """,
            arguments: [unitID]
        ) ?? 0
    }

    /// A volunteer's credit, as the leaderboard and every one of its runners show it.
    struct Credit: Sendable {
        var reputation = 0
        var consecutiveValid = 0
        var valid = 0
        var invalid = 0
    }

    /// Each volunteer name's credit, summed over its tokens: a token rotated (revoked, then made again
    /// under the same name) keeps the volunteer's reputation, as a requester's name keeps its jobs.
    static let creditByName = """
        SELECT t.name AS name, SUM(v.reputation) AS reputation, MAX(v.consecutive_valid) AS consecutive_valid,
            SUM(v.valid_count) AS valid_count, SUM(v.invalid_count) AS invalid_count, MIN(v.token_id) AS first_token
        FROM volunteer v JOIN token t ON t.id = v.token_id GROUP BY t.name
        """

    /// Every volunteer's credit, by the id of each of its tokens.
    static func volunteerCredit(_ db: Database) throws -> [Int64: Credit] {
        var result: [Int64: Credit] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT t.id AS token_id, c.* FROM token t JOIN (\(creditByName)) c ON c.name = t.name") {
            result[row["token_id"]] = Credit(
                reputation: row["reputation"], consecutiveValid: row["consecutive_valid"], valid: row["valid_count"], invalid: row["invalid_count"]
            )
        }
        return result
    }
}
