import FoundationEssentials
import GRDB
public import WUProtocol

extension Scheduler {
    public func jobs(_ identity: Identity) async throws -> JobList {
        let now = clock.now()
        let ttl = config.heartbeatTTLSeconds
        let distinct = config.distinctBy
        return try await store.read { db in
            let jobs: [JobRecord] =
                identity.role == .admin
                ? try JobRecord.order(Column("id").desc).limit(1000).fetchAll(db)
                : try JobRecord.filter(Column("owner") == identity.name).order(Column("id").desc).limit(1000).fetchAll(db)
            let runners = try WaitAnalysis.runners(db, now: now, heartbeatTTLSeconds: ttl, distinctBy: distinct)
            return JobList(
                jobs: try jobs.map { job in
                    try Self.view(db, job, waiting: try WaitAnalysis(job: job, runners: runners, heartbeatTTLSeconds: ttl, distinctBy: distinct).reasons(db))
                }
            )
        }
    }

    public func job(_ identity: Identity, _ jobID: String) async throws -> JobView {
        let now = clock.now()
        let ttl = config.heartbeatTTLSeconds
        let distinct = config.distinctBy
        return try await store.read { db in
            let job = try Self.visibleJob(db, identity, jobID)
            let runners = try WaitAnalysis.runners(db, now: now, heartbeatTTLSeconds: ttl, distinctBy: distinct)
            return try Self.view(db, job, waiting: try WaitAnalysis(job: job, runners: runners, heartbeatTTLSeconds: ttl, distinctBy: distinct).reasons(db))
        }
    }

    static func view(_ db: Database, _ job: JobRecord, waiting: [WaitingReason] = []) throws -> JobView {
        func counts(_ sql: String) throws -> [String: Int] {
            var result: [String: Int] = [:]
            for row in try db.rows(sql: sql, arguments: [job.id!]) { result[row[0]] = row[1] }
            return result
        }
        let copies = try counts("SELECT state, COUNT(*) FROM copy WHERE job_id = ? GROUP BY state")
        var units = try counts("SELECT state, COUNT(*) FROM unit WHERE job_id = ? AND is_aggregate = 0 GROUP BY state")
        // A pending unit with a copy running shows as leased: few are, however large the job.
        let leased =
            try db.int(
                sql: """
                    SELECT COUNT(DISTINCT c.unit_id) FROM copy c JOIN unit u ON u.id = c.unit_id
                    WHERE c.job_id = ? AND c.state = 'leased' AND u.is_aggregate = 0
                    """,
                arguments: [job.id!]
            ) ?? 0
        if leased > 0 {
            units["leased"] = leased
            units["pending"] = (units["pending"] ?? 0) - leased
            if units["pending"] == 0 { units["pending"] = nil }
        }
        var reasons: [String] = []
        if let reason = job.failureReason { reasons.append(reason) }
        reasons += try String.fetchAll(
            db,
            sql: "SELECT DISTINCT fail_reason FROM copy WHERE job_id = ? AND fail_reason IS NOT NULL LIMIT 20",
            arguments: [job.id!]
        )
        let owner = job.owner
        return JobView(
            jobID: String(job.id!),
            name: job.name,
            version: job.version,
            state: job.state,
            priority: job.priority,
            owner: owner,
            signerKeyID: job.signerKeyId,
            replicas: job.replicas,
            quorum: job.quorum,
            hasAggregate: job.hasAggregate,
            unitsTotal: job.unitsTotal,
            units: units,
            copies: copies,
            progress: job.unitsTotal == 0 ? 1 : Double(job.unitsValid) / Double(job.unitsTotal),
            createdAt: job.createdAt,
            startedAt: job.startedAt,
            finishedAt: job.finishedAt,
            failureReasons: reasons,
            resultDigest: job.resultDigest,
            waiting: waiting,
            onUnitFailure: job.onUnitFailure
        )
    }

    /// Which units `GET /v1/jobs/{id}/units` lists: by state, a page at a time, paged in SQL so a
    /// job of 100,000 units answers as fast as a small one.
    public struct UnitQuery: Sendable {
        /// A unit state as the view shows it (`pending`, `leased`, `valid`, `failed`, `cancelled`), or nil for all.
        public var state: String?
        /// At most this many units (up to 1,000); nil lists them all.
        public var limit: Int?
        /// The `next` of the previous page.
        public var after: Int64?

        public init(state: String? = nil, limit: Int? = nil, after: Int64? = nil) {
            self.state = state
            self.limit = limit
            self.after = after
        }

        public static let maxLimit = 1000
        public static let states = ["pending", "leased", "valid", "failed", "cancelled"]
    }

    public func units(_ identity: Identity, _ jobID: String, _ query: UnitQuery = UnitQuery()) async throws -> UnitList {
        if let state = query.state, !UnitQuery.states.contains(state) {
            throw APIError.badRequest("state must be one of \(UnitQuery.states.joined(separator: ", ")), got '\(state.prefix(40))'")
        }
        if let limit = query.limit, !(1...UnitQuery.maxLimit).contains(limit) {
            throw APIError.badRequest("limit must be between 1 and \(UnitQuery.maxLimit), got \(limit)")
        }
        let now = clock.now()
        let ttl = config.heartbeatTTLSeconds
        let distinct = config.distinctBy
        return try await store.read { db in
            let job = try Self.visibleJob(db, identity, jobID)
            let units = try Self.unitPage(db, job: job, query)
            let ids = units.map { $0.id! }
            let copies = try Self.copyViews(db, job: job, units: query.limit == nil && query.state == nil ? nil : ids)
            let failed = units.filter { $0.state == "failed" }.map { $0.id! }
            let attempts = try FailureExplanation.lastAttempts(db, units: failed)
            let analysis = WaitAnalysis(
                job: job, runners: try WaitAnalysis.runners(db, now: now, heartbeatTTLSeconds: ttl, distinctBy: distinct), heartbeatTTLSeconds: ttl,
                distinctBy: distinct
            )
            let waiting = try analysis.reasons(db, units: units.filter { $0.state == "pending" }.map { $0.id! })
            let views = units.map { unit in
                let mine = copies[unit.id!] ?? []
                return UnitView(
                    unitID: unit.name,
                    isAggregate: unit.isAggregate,
                    state: unit.state == "pending" && mine.contains { $0.state == "leased" } ? "leased" : unit.state,
                    outputDigest: unit.outputDigest,
                    blobDigest: unit.blobDigest,
                    failureReason: unit.failureReason,
                    copies: mine,
                    failure: unit.state == "failed"
                        ? FailureExplanation.explain(stored: unit.failureReason, job: job, last: attempts[unit.id!]) : nil,
                    waitingReason: waiting[unit.id!]
                )
            }
            let next = query.limit.flatMap { units.count == $0 ? units.last?.id.map(String.init) : nil }
            return UnitList(units: views, next: next)
        }
    }

    /// One page of a job's units in id order, filtered by the state the view shows.
    static func unitPage(_ db: Database, job: JobRecord, _ query: UnitQuery) throws -> [UnitRecord] {
        var conditions = ["u.job_id = :job", "u.id > :after"]
        let leasedCopy = "EXISTS (SELECT 1 FROM copy c WHERE c.unit_id = u.id AND c.state = 'leased')"
        switch query.state {
        case nil: break
        case "leased": conditions += ["u.state = 'pending'", leasedCopy]
        case "pending": conditions += ["u.state = 'pending'", "NOT " + leasedCopy]
        default: conditions.append("u.state = :state")
        }
        var arguments: [String: any DatabaseValueConvertible] = ["job": job.id!, "after": query.after ?? 0]
        if conditions.last == "u.state = :state" { arguments["state"] = query.state }
        let limit = query.limit.map { " LIMIT \($0)" } ?? ""
        return try UnitRecord.fetchAll(
            db,
            sql: "SELECT u.* FROM unit u WHERE \(conditions.joined(separator: " AND ")) ORDER BY u.id\(limit)",
            arguments: StatementArguments(arguments)
        )
    }

    /// The copies of `units` (every unit of the job when nil), by unit row id.
    static func copyViews(_ db: Database, job: JobRecord, units: [Int64]?) throws -> [Int64: [CopyView]] {
        let conditions = units.map { SQLList.chunks($0).map { "c.unit_id IN (\($0))" } } ?? ["c.job_id = \(job.id!)"]
        var copiesByUnit: [Int64: [CopyView]] = [:]
        for condition in conditions {
            try collectCopies(db, condition, into: &copiesByUnit)
        }
        return copiesByUnit
    }

    static func collectCopies(_ db: Database, _ condition: String, into copiesByUnit: inout [Int64: [CopyView]]) throws {
        let rows = try db.rows(
            sql: "SELECT c.*, r.name AS runner_name FROM copy c LEFT JOIN runner r ON r.id = c.runner_id WHERE \(condition) ORDER BY c.id"
        )
        for row in rows {
            let copy = try CopyRecord(row: row)
            let usage = copy.usage.flatMap { try? JSONDecoder().decode(ResourceUsage.self, from: Data($0.utf8)) }
            copiesByUnit[copy.unitId, default: []].append(
                CopyView(
                    copyID: String(copy.id!),
                    state: copy.state,
                    attempts: copy.attempts,
                    runnerID: copy.runnerId.map { String($0) },
                    runnerName: row["runner_name"],
                    assignmentID: copy.assignmentId.map { String($0) },
                    progress: copy.progress,
                    outputDigest: copy.outputDigest,
                    blobDigest: copy.blobDigest,
                    usage: usage,
                    failReason: copy.failReason,
                    leaseExpiresAt: copy.leaseExpiresAt,
                    finishedAt: copy.finishedAt
                )
            )
        }
    }

    /// `active`, `stale` or `offline`, from the last time a runner called.
    func runnerStatus(lastSeen: Int64, now: Int64, leased: Int) -> String {
        let silent = now - lastSeen
        let ttl = Int64(config.heartbeatTTLSeconds) * 1000
        if silent <= ttl { return "active" }
        if leased > 0 || silent <= 4 * ttl { return "stale" }
        return "offline"
    }

    public func runners(_ identity: Identity) async throws -> RunnerList {
        let now = clock.now()
        return try await store.read { db in
            let leased = try Dictionary(
                db.rows(sql: "SELECT runner_id, COUNT(*) FROM copy WHERE state = 'leased' GROUP BY runner_id").map {
                    ($0[0] as Int64, $0[1] as Int)
                },
                uniquingKeysWith: { a, _ in a }
            )
            let runners =
                identity.role == .admin
                ? try RunnerRecord.order(Column("id")).fetchAll(db)
                : try RunnerRecord.filter(Column("token_id") == identity.tokenID).order(Column("id")).fetchAll(db)
            let credit = try Self.volunteerCredit(db)
            return RunnerList(
                runners: runners.map { r in
                    let running = leased[r.id!] ?? 0
                    return RunnerView(
                        runnerID: String(r.id!),
                        name: r.name,
                        status: self.runnerStatus(lastSeen: r.lastSeenAt, now: now, leased: running),
                        capacity: Capacity(millicpus: r.millicpus, memoryBytes: r.memoryBytes, diskBytes: r.diskBytes, gpus: r.gpus),
                        arch: r.arch,
                        profiles: (try? JSONDecoder().decode([String].self, from: Data(r.profiles.utf8))) ?? [],
                        version: r.version,
                        registeredAt: r.registeredAt,
                        lastSeenAt: r.lastSeenAt,
                        runningCopies: running,
                        // Reputation is the volunteer's (the token's), shared by all its runner ids.
                        reputation: credit[r.tokenId, default: Credit()].reputation,
                        consecutiveValid: credit[r.tokenId, default: Credit()].consecutiveValid,
                        valid: credit[r.tokenId, default: Credit()].valid,
                        invalid: credit[r.tokenId, default: Credit()].invalid
                    )
                }
            )
        }
    }

    /// Volunteers (runner token names) by reputation: neither a new runner id nor a rotated token resets one.
    public func leaderboard() async throws -> Leaderboard {
        try await store.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT c.*, (SELECT COUNT(*) FROM runner r JOIN token t ON t.id = r.token_id WHERE t.name = c.name) AS runners
                    FROM (\(Self.creditByName)) c
                    ORDER BY c.reputation DESC, c.consecutive_valid DESC, c.first_token LIMIT 100
                    """
            )
            return Leaderboard(
                runners: rows.enumerated().map { index, row in
                    LeaderboardEntry(
                        rank: index + 1,
                        name: row["name"],
                        runners: row["runners"],
                        reputation: row["reputation"],
                        consecutiveValid: row["consecutive_valid"],
                        valid: row["valid_count"],
                        invalid: row["invalid_count"]
                    )
                }
            )
        }
    }

    public func stats() async throws -> StatsView {
        let now = clock.now()
        return try await store.read { db in
            func counts(_ sql: String) throws -> [String: Int] {
                var result: [String: Int] = [:]
                for row in try db.rows(sql: sql) { result[row[0]] = row[1] }
                return result
            }
            let jobs = try counts("SELECT state, COUNT(*) FROM job GROUP BY state")
            let copies = try counts("SELECT state, COUNT(*) FROM copy GROUP BY state")
            let leased = try Dictionary(
                db.rows(sql: "SELECT runner_id, COUNT(*) FROM copy WHERE state = 'leased' GROUP BY runner_id").map {
                    ($0[0] as Int64, $0[1] as Int)
                },
                uniquingKeysWith: { a, _ in a }
            )
            var runners: [String: Int] = [:]
            for row in try db.rows(sql: "SELECT id, last_seen_at FROM runner") {
                runners[self.runnerStatus(lastSeen: row[1], now: now, leased: leased[row[0]] ?? 0), default: 0] += 1
            }
            let blobs = try db.int(sql: "SELECT (SELECT COUNT(*) FROM job_blob) + (SELECT COUNT(*) FROM unit_blob)") ?? 0
            return StatsView(jobs: jobs, copies: copies, runners: runners, blobs: blobs)
        }
    }

    func copyCounts() async throws -> [String: Int] {
        try await store.read { db in
            var result: [String: Int] = [:]
            for row in try db.rows(sql: "SELECT state, COUNT(*) FROM copy GROUP BY state") { result[row[0]] = row[1] }
            return result
        }
    }

    /// May this caller fetch this blob? Admins always; requesters for their jobs; runners for copies they hold.
    func mayRead(_ identity: Identity, blob digest: String) async throws -> Bool {
        if identity.role == .admin { return true }
        return try await store.read { db in
            switch identity.role {
            case .admin: return true
            case .requester:
                return try Bool.fetchOne(
                    db,
                    sql: """
                        SELECT EXISTS (SELECT 1 FROM job_blob b JOIN job j ON j.id = b.job_id WHERE b.digest = :d AND j.owner = :t)
                            OR EXISTS (SELECT 1 FROM unit_blob b JOIN unit u ON u.id = b.unit_id JOIN job j ON j.id = u.job_id
                                       WHERE b.digest = :d AND j.owner = :t)
                        """,
                    arguments: ["d": digest, "t": identity.name]
                ) ?? false
            case .runner:
                return try Bool.fetchOne(
                    db,
                    sql: """
                        SELECT EXISTS (SELECT 1 FROM job_blob b JOIN copy c ON c.job_id = b.job_id JOIN runner r ON r.id = c.runner_id
                                       WHERE b.digest = :d AND c.state = 'leased' AND r.token_id = :t)
                            OR EXISTS (SELECT 1 FROM unit_blob b JOIN copy c ON c.unit_id = b.unit_id JOIN runner r ON r.id = c.runner_id
                                       WHERE b.digest = :d AND c.state = 'leased' AND r.token_id = :t)
                        """,
                    arguments: ["d": digest, "t": identity.tokenID]
                ) ?? false
            }
        }
    }
}
