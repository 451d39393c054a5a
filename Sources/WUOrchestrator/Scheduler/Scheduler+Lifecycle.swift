import GRDB
import HTTPTypes
public import WUProtocol

extension Scheduler {
    /// Requeues every copy whose lease has expired (attempts + 1), failing those out of attempts.
    @discardableResult
    public func sweep() async throws -> SweepResponse {
        try await transaction { tx in try Self.sweep(tx) }
    }

    static func sweep(_ tx: Transaction) throws -> SweepResponse {
        try requeueLeases(tx, matching: "lease_expires_at <= :now", ["now": tx.now], reason: "lease expired")
    }

    /// Requeues the leased copies matching `condition` (an SQL condition on `copy`), each counting an
    /// attempt; a copy out of attempts fails its unit. Used for expired leases and for the copies a
    /// restarted runner lost.
    static func requeueLeases(
        _ tx: Transaction, matching condition: String, _ values: [String: any DatabaseValueConvertible], reason: String
    ) throws -> SweepResponse {
        var arguments: [String: (any DatabaseValueConvertible)?] = ["max": tx.config.maxAttempts, "reason": reason]
        for (name, value) in values { arguments[name] = value }
        let rows = try tx.db.rows(
            sql: """
                UPDATE copy SET attempts = attempts + 1,
                    state = CASE WHEN attempts + 1 >= :max THEN 'failed' ELSE 'queued' END,
                    runner_id = NULL, lease_expires_at = NULL, progress = NULL, fail_reason = :reason
                WHERE state = 'leased' AND \(condition)
                RETURNING id, unit_id, job_id, state, assignment_id, attempts
                """,
            arguments: StatementArguments(arguments)
        )
        var requeued = 0
        var failed = 0
        for row in rows {
            let assignmentID: Int64? = row["assignment_id"]
            if let assignmentID {
                try tx.db.run(
                    sql: "UPDATE assignment SET state = 'expired', finished_at = ? WHERE id = ? AND state = 'leased'",
                    arguments: [tx.now, assignmentID]
                )
            }
            let job = try JobRecord.find(tx.db, row["job_id"] as Int64)
            tx.emit("copy", job: job, ["copy_id": String(row["id"] as Int64), "state": row["state"], "reason": reason])
            if row["state"] as String == "failed" {
                failed += 1
                try failUnit(tx, unitID: row["unit_id"], reason: "\(reason) \(row["attempts"] as Int) times")
            } else {
                requeued += 1
            }
        }
        tx.counters.requeued += requeued
        tx.counters.failed += failed
        if requeued > 0 { tx.workAvailable = true }
        return SweepResponse(requeued: requeued, failed: failed)
    }

    /// Fails a unit, and with it the job.
    static func failUnit(_ tx: Transaction, unitID: Int64, reason: String) throws {
        guard var unit = try UnitRecord.find(tx.db, unitID), unit.state == "pending",
            var job = try JobRecord.find(tx.db, unit.jobId)
        else { return }
        unit.state = "failed"
        unit.failureReason = reason
        try unit.update(tx.db)
        tx.emit("unit", job: job, ["unit_id": unit.name, "state": "failed", "reason": reason])
        if job.onUnitFailure == "continue" && !unit.isAggregate {
            try continueAfterFailure(tx, &job, unitID: unitID)
        } else {
            try finishJob(tx, &job, state: "failed", reason: "unit \(unit.name): \(reason)")
        }
    }

    /// Ends a job: copies still queued or leased are cancelled (heartbeats then answer abort).
    static func finishJob(_ tx: Transaction, _ job: inout JobRecord, state: String, reason: String?) throws {
        guard !["completed", "failed", "cancelled"].contains(job.state) else { return }
        job.state = state
        job.resumeState = nil
        job.finishedAt = tx.now
        job.failureReason = reason ?? job.failureReason
        try job.update(tx.db)
        if state == "failed" { try keepRealFailures(tx, jobID: job.id!) }
        if state != "completed" {
            try tx.db.run(
                sql: """
                    UPDATE copy SET state = 'cancelled', lease_expires_at = NULL, finished_at = ?
                    WHERE job_id = ? AND state IN ('queued', 'leased')
                    """,
                arguments: [tx.now, job.id!]
            )
            try tx.db.run(sql: "UPDATE unit SET state = 'cancelled' WHERE job_id = ? AND state = 'pending'", arguments: [job.id!])
        }
        var fields = ["state": state]
        if let reason { fields["reason"] = reason }
        tx.emit("job", job: job, fields)
    }

    /// Moves a job to a non-final state; a paused job remembers it for `resume`.
    static func setState(_ tx: Transaction, _ job: inout JobRecord, _ state: String) throws {
        if job.state == "paused" {
            job.resumeState = state
        } else {
            job.state = state
        }
        try job.update(tx.db)
        tx.emit("job", job: job, ["state": job.state])
    }

    // MARK: Job control

    public enum JobAction: String, Sendable, CaseIterable {
        case cancel, pause, resume

        /// Whether a job in `state` can take this action (the dashboard offers only these).
        public func applies(to state: String) -> Bool {
            switch self {
            case .cancel: !["completed", "failed", "cancelled"].contains(state)
            case .pause: ["pending", "running", "aggregating"].contains(state)
            case .resume: state == "paused"
            }
        }

        /// `cancelled`, `paused`, `resumed`: for messages.
        public var past: String { self == .cancel ? "cancelled" : rawValue + "d" }
    }

    /// Cancels, pauses or resumes a job the caller may see.
    public func control(_ identity: Identity, jobID: String, _ action: JobAction) async throws {
        try await transaction { tx in
            var job = try Self.visibleJob(tx.db, identity, jobID)
            guard action.applies(to: job.state) else {
                throw APIError.conflict(
                    action == .resume ? "job \(jobID) is \(job.state), not paused" : "job \(jobID) is \(job.state) and cannot be \(action.past)"
                )
            }
            switch action {
            case .cancel:
                try Self.finishJob(tx, &job, state: "cancelled", reason: "cancelled by \(identity.name)")
            case .pause:
                job.resumeState = job.state
                job.state = "paused"
                try job.update(tx.db)
                tx.emit("job", job: job, ["state": "paused"])
            case .resume:
                job.state = job.resumeState ?? "running"
                job.resumeState = nil
                try job.update(tx.db)
                tx.workAvailable = true
                tx.emit("job", job: job, ["state": job.state])
            }
        }
    }

    /// The job with this id if the caller may see it: its owner or an admin. Others get 404.
    static func visibleJob(_ db: Database, _ identity: Identity, _ jobID: String) throws -> JobRecord {
        let id = try parseID(jobID, "job")
        guard let job = try JobRecord.find(db, id), identity.role == .admin || job.owner == identity.name else {
            throw APIError.notFound("job '\(jobID.prefix(80))'")
        }
        return job
    }
}
