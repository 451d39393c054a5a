import GRDB

/// What a failed unit does to its job: wu.json's `on_unit_failure`.
extension Scheduler {
    /// The runner's reasons that the unit itself caused, as opposed to its runner (`fetch`,
    /// `sandbox`, …) or the orchestrator (`lease expired`): a unit with one of these really failed.
    static let unitCausedReasons = ["oom", "timeout", "disk-exceeded", "output-invalid", "exit-code", "signal"]

    /// With `on_unit_failure: continue`: the failed unit's other copies are no longer needed (their
    /// heartbeats now answer abort), and the job ends once no other unit waits or runs.
    static func continueAfterFailure(_ tx: Transaction, _ job: inout JobRecord, unitID: Int64) throws {
        try tx.db.run(
            sql: "UPDATE copy SET state = 'cancelled', lease_expires_at = NULL, finished_at = ? WHERE unit_id = ? AND state IN ('queued', 'leased')",
            arguments: [tx.now, unitID]
        )
        try settleContinuingJob(tx, &job)
    }

    /// With `on_unit_failure: continue`, once every unit is valid or failed and some failed, the job
    /// ends `failed` without its aggregate; the valid units' outputs stay available. Does nothing
    /// for a job that fails fast, or while units still wait or run.
    static func settleContinuingJob(_ tx: Transaction, _ job: inout JobRecord) throws {
        guard job.onUnitFailure == "continue" else { return }
        let failed =
            try tx.db.int(sql: "SELECT COUNT(*) FROM unit WHERE job_id = ? AND state = 'failed' AND is_aggregate = 0", arguments: [job.id!]) ?? 0
        guard failed > 0, job.unitsValid + failed >= job.unitsTotal else { return }
        try finishJob(
            tx, &job, state: "failed",
            reason: "\(failed) of \(job.unitsTotal) units failed (on_unit_failure: continue); the \(job.unitsValid) valid outputs are in `wu results`"
        )
    }

    /// When a job fails fast, the units still pending that had really failed an attempt (out of
    /// memory, out of time, …) are marked failed with that reason rather than cancelled with the rest.
    static func keepRealFailures(_ tx: Transaction, jobID: Int64) throws {
        let codes = unitCausedReasons.map { "'\($0)'" }.joined(separator: ", ")
        let caused = "a.unit_id = unit.id AND a.state = 'failed' AND substr(a.fail_reason, 1, instr(a.fail_reason || ':', ':') - 1) IN (\(codes))"
        try tx.db.run(
            sql: """
                UPDATE unit SET state = 'failed',
                    failure_reason = 'failed an attempt before the job stopped; last: '
                        || (SELECT a.fail_reason FROM assignment a WHERE \(caused) ORDER BY a.id DESC LIMIT 1)
                WHERE job_id = ? AND state = 'pending' AND EXISTS (SELECT 1 FROM assignment a WHERE \(caused))
                """,
            arguments: [jobID]
        )
    }
}
