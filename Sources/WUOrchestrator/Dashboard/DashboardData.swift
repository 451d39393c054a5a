import FoundationEssentials
import GRDB
import WUProtocol

/// Everything one render of the dashboard shows, read for one caller.
///
/// Admins see every job, runner and failure; a requester only their own jobs and the failures of
/// those jobs (the leaderboard is public credit, as `GET /v1/leaderboard` is); a runner token sees
/// the leaderboard and its own runners.
struct DashboardData: Sendable {
    var identity: Identity
    var now: Int64
    var jobs: [JobRow]
    var runners: [RunnerView]?
    /// What each runner holds a lease on now, by runner id.
    var nowRunning: [String: [Lease]]
    var leaderboard: [LeaderboardEntry]
    var failures: [FailureRow]
    var throughput: Throughput
    var selected: Selected?
    /// The job state the jobs table is filtered by, or nil for every job.
    var stateFilter: String?
    /// When a runner's status will change by the clock alone (no event tells of it): the page renders again then.
    var nextStatusChange: Int64?

    /// One line of the jobs table: units split into the four parts of its progress bar.
    struct JobRow: Sendable, Equatable {
        var id: Int64
        var name: String
        var owner: String
        var state: String
        var priority: Int
        var total: Int
        var valid: Int
        var running: Int
        var failed: Int
        var cancelled: Int = 0
        var createdAt: Int64
        var finishedAt: Int64?
        var failureReason: String?

        var queued: Int { max(0, total - valid - running - failed - cancelled) }
        /// Valid units in percent, rounded down (100 only when every unit is valid).
        var percent: Int { total == 0 ? 100 : valid * 100 / total }
    }

    /// A leased copy: which job and unit a runner runs now.
    struct Lease: Sendable, Equatable {
        var jobID: Int64
        var unit: String
    }

    /// A copy that failed or disagreed with its quorum.
    struct FailureRow: Sendable, Equatable {
        var at: Int64
        var jobID: Int64
        var jobName: String
        var unit: String
        var runner: String?
        var reason: String
        var exitCode: Int32?
        var signal: Int32?
        var stderrTail: String
    }

    /// Copies finished per bucket, oldest first.
    struct Throughput: Sendable, Equatable {
        static let buckets = 20
        static let bucketMs: Int64 = 30_000
        var completed: [Int]
        var failed: [Int]
    }

    /// The job a click opened: its view and its units, or why it cannot be shown.
    struct Selected: Sendable {
        var id: String
        var job: JobView?
        var units: [UnitView]
        var error: String?
    }

    static let jobLimit = 50
    /// The states the jobs table can be filtered by.
    static let jobStates = ["pending", "running", "aggregating", "paused", "completed", "failed", "cancelled"]
    /// Units read for the job a click opened; its table shows at most 300 copies.
    static let unitLimit = 300
    static let failureLimit = 12
    static let stderrTailLimit = 2000

    static func load(_ scheduler: Scheduler, _ identity: Identity, selectedJob: String?, state: String? = nil) async throws -> DashboardData {
        let now = scheduler.clock.now()
        let role = identity.role
        let state = state.flatMap { jobStates.contains($0) ? $0 : nil }
        let snapshot = try await scheduler.store.read { db in
            (
                jobs: role == .runner ? [] : try jobs(db, identity, state: state),
                failures: role == .runner ? [] : try failures(db, identity),
                throughput: role == .runner ? Throughput(completed: [], failed: []) : try throughput(db, identity, now: now),
                nowRunning: role == .requester ? [:] : try leases(db)
            )
        }
        let runners: [RunnerView]? = role == .requester ? nil : try await scheduler.runners(identity).runners
        let leaderboard = Array(try await scheduler.leaderboard().runners.prefix(10))
        var selected: Selected?
        if let id = selectedJob, role != .runner {
            do {
                selected = Selected(
                    id: id,
                    job: try await scheduler.job(identity, id),
                    units: try await scheduler.units(identity, id, Scheduler.UnitQuery(limit: unitLimit)).units,
                    error: nil
                )
            } catch let error as APIError {
                selected = Selected(id: id, job: nil, units: [], error: error.message)
            }
        }
        let ttl = Int64(scheduler.config.heartbeatTTLSeconds) * 1000
        let changes = (runners ?? []).compactMap { runner -> Int64? in
            switch runner.status {
            case "active": runner.lastSeenAt + ttl + 1
            case "stale" where runner.runningCopies == 0: runner.lastSeenAt + 4 * ttl + 1
            default: nil
            }
        }
        return DashboardData(
            identity: identity,
            now: now,
            jobs: snapshot.jobs,
            runners: runners,
            nowRunning: snapshot.nowRunning,
            leaderboard: leaderboard,
            failures: snapshot.failures,
            throughput: snapshot.throughput,
            selected: selected,
            stateFilter: state,
            nextStatusChange: changes.min()
        )
    }

    /// The most recent jobs the caller may see, with their units counted by bar segment.
    static func jobs(_ db: Database, _ identity: Identity, state: String? = nil) throws -> [JobRow] {
        var conditions: [String] = []
        if identity.role != .admin { conditions.append("j.owner = :owner") }
        if state != nil { conditions.append("j.state = :state") }
        let mine = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT j.id, j.name, j.state, j.priority, j.units_total, j.units_valid, j.created_at, j.finished_at, j.failure_reason,
                    j.owner,
                    (SELECT COUNT(*) FROM unit u WHERE u.job_id = j.id AND u.is_aggregate = 0 AND u.state = 'failed') AS failed,
                    (SELECT COUNT(*) FROM unit u WHERE u.job_id = j.id AND u.is_aggregate = 0 AND u.state = 'cancelled') AS cancelled,
                    (SELECT COUNT(DISTINCT c.unit_id) FROM copy c JOIN unit u ON u.id = c.unit_id
                        WHERE c.job_id = j.id AND c.state IN ('leased', 'uploaded') AND u.state = 'pending' AND u.is_aggregate = 0) AS running
                FROM job j
                \(mine)
                ORDER BY j.id DESC LIMIT :limit
                """,
            arguments: ["owner": identity.name, "limit": jobLimit, "state": state]
        )
        return rows.map { row in
            JobRow(
                id: row["id"],
                name: row["name"],
                owner: row["owner"] ?? "",
                state: row["state"],
                priority: row["priority"],
                total: row["units_total"],
                valid: row["units_valid"],
                running: row["running"],
                failed: row["failed"],
                cancelled: row["cancelled"],
                createdAt: row["created_at"],
                finishedAt: row["finished_at"],
                failureReason: row["failure_reason"]
            )
        }
    }

    /// Leased copies by runner (the caller sees only the rows of runners it may see).
    static func leases(_ db: Database) throws -> [String: [Lease]] {
        var result: [String: [Lease]] = [:]
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT c.runner_id, c.job_id, u.name FROM copy c JOIN unit u ON u.id = c.unit_id
                WHERE c.state = 'leased' AND c.runner_id IS NOT NULL ORDER BY c.id LIMIT 1000
                """
        )
        for row in rows { result[String(row[0] as Int64), default: []].append(Lease(jobID: row[1], unit: row[2])) }
        return result
    }

    /// The latest failed or expired attempts and invalid copies, newest first.
    static func failures(_ db: Database, _ identity: Identity) throws -> [FailureRow] {
        let mine = identity.role == .admin ? "" : "AND j.owner = :owner"
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT f.finished_at, f.reason, f.usage, u.name AS unit, j.id AS job_id, j.name AS job_name, r.name AS runner
                FROM (
                    SELECT a.finished_at, COALESCE(a.fail_reason, 'lease expired') AS reason, a.usage, a.copy_id, a.runner_id
                        FROM assignment a WHERE a.state IN ('failed', 'expired')
                    UNION ALL
                    SELECT c.finished_at, 'invalid: the output disagreed with the quorum', c.usage, c.id, c.runner_id
                        FROM copy c WHERE c.state = 'invalid'
                ) f
                JOIN copy c ON c.id = f.copy_id JOIN unit u ON u.id = c.unit_id JOIN job j ON j.id = c.job_id
                LEFT JOIN runner r ON r.id = f.runner_id
                WHERE f.finished_at IS NOT NULL \(mine)
                ORDER BY f.finished_at DESC LIMIT :limit
                """,
            arguments: ["owner": identity.name, "limit": failureLimit]
        )
        return rows.map { row in
            let usage = (row["usage"] as String?).flatMap { try? JSONDecoder().decode(ResourceUsage.self, from: Data($0.utf8)) }
            return FailureRow(
                at: row["finished_at"],
                jobID: row["job_id"],
                jobName: row["job_name"],
                unit: row["unit"],
                runner: row["runner"],
                reason: row["reason"],
                exitCode: usage?.exitCode,
                signal: usage?.signal,
                stderrTail: String(usage?.stderrTail.suffix(stderrTailLimit) ?? "")
            )
        }
    }

    /// Attempts that finished in each of the last buckets.
    static func throughput(_ db: Database, _ identity: Identity, now: Int64) throws -> Throughput {
        // The last bucket ends at `now` inclusive.
        let start = now - Int64(Throughput.buckets) * Throughput.bucketMs + 1
        let mine =
            identity.role == .admin
            ? "" : "AND a.copy_id IN (SELECT c.id FROM copy c JOIN job j ON j.id = c.job_id WHERE j.owner = :owner)"
        var result = Throughput(completed: Array(repeating: 0, count: Throughput.buckets), failed: Array(repeating: 0, count: Throughput.buckets))
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT (a.finished_at - :start) / :width AS bucket, SUM(a.state = 'completed') AS completed, SUM(a.state <> 'completed') AS failed
                FROM assignment a
                WHERE a.finished_at >= :start AND a.state IN ('completed', 'failed', 'expired') \(mine)
                GROUP BY bucket
                """,
            arguments: ["start": start, "width": Throughput.bucketMs, "owner": identity.name]
        )
        for row in rows {
            let bucket: Int = row["bucket"]
            guard (0..<Throughput.buckets).contains(bucket) else { continue }
            result.completed[bucket] = row["completed"]
            result.failed[bucket] = row["failed"]
        }
        return result
    }
}
