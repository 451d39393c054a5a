import FoundationEssentials
import GRDB
import HTTPTypes
public import WUProtocol

extension Scheduler {
    /// Records a copy's output and runs quorum validation. Idempotent on the assignment id.
    ///
    /// The output archive must have been uploaded first (`PUT /v1/blobs/{blob_digest}`); it is checked
    /// to inflate to the tar of `output_digest` before anything is recorded.
    public func complete(
        _ identity: Identity,
        assignmentID: String,
        _ request: CompleteRequest,
        blobs: BlobStore
    ) async throws
        -> AssignmentAck
    {
        try await complete(.identity(identity), assignmentID: assignmentID, request, blobs: blobs)
    }

    public func complete(_ caller: Caller, assignmentID: String, _ request: CompleteRequest, blobs: BlobStore) async throws -> AssignmentAck {
        guard WireID.isSHA256(request.outputDigest), WireID.isSHA256(request.blobDigest) else {
            throw APIError.badRequest("output_digest and blob_digest must be 64 lower-case hex digits")
        }
        let usage = String(decoding: try JSONEncoder().encode(request.usage), as: UTF8.self)
        // One write transaction in the common case: a small output is checked inside it.
        let first = try await transaction { tx in try Self.record(tx, caller, assignmentID, request, usage: usage, output: .checkSmall(blobs)) }
        switch first {
        case .recorded(let ack): return ack
        case .needsFullCheck(let identity, let diskBytes):
            // Too big to inflate while holding the writer: checked on the thread pool, then recorded.
            try await blobs.checkOutput(request.blobDigest, outputDigest: request.outputDigest, diskBytes: diskBytes)
            let second = try await transaction { tx in
                try Self.record(tx, .identity(identity), assignmentID, request, usage: usage, output: .checked)
            }
            guard case .recorded(let ack) = second else { throw APIError.conflict("assignment \(assignmentID) changed while its output was checked") }
            return ack
        }
    }

    /// How `record` treats the output a `complete` names.
    enum OutputCheck: Sendable {
        /// Inflate it in the transaction if it is small (`BlobStore.checkSmallOutput`); else ask for a full check.
        case checkSmall(BlobStore)
        /// It was checked in full, outside the transaction.
        case checked
    }

    enum CompleteStep: Sendable {
        case recorded(AssignmentAck)
        /// The output must be checked outside the transaction, within the unit's disk, before it is recorded.
        case needsFullCheck(Identity, diskBytes: Int64)
    }

    /// `complete` inside one write transaction: who asks first (an unauthenticated caller learns
    /// nothing about blobs), then the assignment, then the output, then the state changes.
    static func record(
        _ tx: Transaction, _ caller: Caller, _ assignmentID: String, _ request: CompleteRequest, usage: String, output: OutputCheck
    ) throws -> CompleteStep {
        let identity = try tx.authenticate(caller, [.runner, .admin])
        let runner = try Self.ownedRunner(tx, identity, request.runnerID)
        let assignment = try Self.ownedAssignment(tx.db, runner, assignmentID)
        switch assignment.state {
        case "completed":
            guard assignment.outputDigest == request.outputDigest, assignment.blobDigest == request.blobDigest else {
                throw APIError.conflict("assignment \(assignmentID) was already completed with a different output")
            }
            return .recorded(try Self.ack(tx, assignment))
        case "failed", "released":
            throw APIError.conflict("assignment \(assignmentID) was already reported as \(assignment.state)")
        default: break
        }
        guard let copy = try CopyRecord.find(tx.db, assignment.copyId),
            let job = try JobRecord.find(tx.db, copy.jobId),
            let unit = try UnitRecord.find(tx.db, copy.unitId)
        else { throw APIError.notFound("assignment '\(assignmentID)'") }
        // Only a blob this volunteer uploaded: naming someone else's is answered as if it were not
        // stored, so a runner learns nothing about other volunteers' blobs and is granted none.
        guard try uploaded(tx.db, request.blobDigest, by: [runner.tokenId, identity.tokenID]) else {
            throw BlobStore.blobMissing(request.blobDigest)
        }
        if case .checkSmall(let blobs) = output,
            try !blobs.checkSmallOutput(request.blobDigest, outputDigest: request.outputDigest, diskBytes: job.diskBytes)
        {
            return .needsFullCheck(identity, diskBytes: job.diskBytes)
        }
        return .recorded(try Self.recordCompletion(tx, runner, assignment, copy: copy, job: job, unit: unit, request, usage: usage))
    }

    /// Marks the assignment completed and, when its copy still counts, the copy uploaded, then runs quorum.
    static func recordCompletion(
        _ tx: Transaction, _ runner: RunnerRecord, _ assignment: AssignmentRecord, copy: CopyRecord, job: JobRecord, unit: UnitRecord,
        _ request: CompleteRequest, usage: String
    ) throws -> AssignmentAck {
        var assignment = assignment
        let live = copy.state == "leased" && copy.assignmentId == assignment.id
        // A lease that expired but whose copy nobody has taken since: the result is still useful.
        var lateButOpen = false
        if !live && copy.state == "queued" && assignment.state == "expired" && unit.state == "pending"
            && ["running", "aggregating", "paused"].contains(job.state)
        {
            // …unless its volunteer has another copy of the unit by now.
            let volunteer = Self.volunteerOfRunner("r", tx.config)
            lateButOpen =
                try tx.db.int(
                    sql: """
                        SELECT COUNT(*) FROM copy c JOIN runner r ON r.id = c.runner_id
                        WHERE c.unit_id = ? AND \(volunteer) = ? AND c.state IN ('leased', 'uploaded', 'valid')
                        """,
                    arguments: [unit.id!, Self.volunteer(of: runner, tx.config)]
                ) == 0
        }
        assignment.state = "completed"
        assignment.finishedAt = tx.now
        assignment.outputDigest = request.outputDigest
        assignment.blobDigest = request.blobDigest
        assignment.usage = usage
        assignment.counted = live || lateButOpen
        try tx.db.run(
            sql:
                "UPDATE assignment SET state = 'completed', finished_at = ?, output_digest = ?, blob_digest = ?, usage = ?, counted = ? WHERE id = ?",
            arguments: [tx.now, request.outputDigest, request.blobDigest, usage, assignment.counted, assignment.id!]
        )
        tx.counters.completed += 1
        if live || lateButOpen {
            try tx.db.run(
                sql: """
                    UPDATE copy SET state = 'uploaded', runner_id = ?, assignment_id = ?, output_digest = ?, blob_digest = ?, usage = ?,
                        lease_expires_at = NULL, finished_at = ?, progress = 1
                    WHERE id = ?
                    """,
                arguments: [runner.id!, assignment.id!, request.outputDigest, request.blobDigest, usage, tx.now, copy.id!]
            )
            try tx.db.run(
                sql: "INSERT OR IGNORE INTO unit_blob (digest, unit_id) VALUES (?, ?)",
                arguments: [request.blobDigest, unit.id!]
            )
            tx.emit("copy", job: job, ["unit_id": unit.name, "copy_id": String(copy.id!), "state": "uploaded"])
            try Self.evaluate(tx, unit: unit, job: job)
        }
        return try Self.ack(tx, assignment)
    }

    /// Records that a copy could not produce an output. Idempotent on the assignment id.
    ///
    /// `released` gives the copy back without counting an attempt; anything else counts one, and
    /// the unit fails once a copy has used `max_attempts`.
    public func fail(_ identity: Identity, assignmentID: String, _ request: FailRequest) async throws -> AssignmentAck {
        try await fail(.identity(identity), assignmentID: assignmentID, request)
    }

    public func fail(_ caller: Caller, assignmentID: String, _ request: FailRequest) async throws -> AssignmentAck {
        guard (1...100).contains(request.reason.count) else { throw APIError.badRequest("reason must be 1 to 100 characters") }
        let usage = try request.usage.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try await transaction { tx in
            let runner = try Self.ownedRunner(tx, try tx.authenticate(caller, [.runner, .admin]), request.runnerID)
            var assignment = try Self.ownedAssignment(tx.db, runner, assignmentID)
            switch assignment.state {
            case "failed", "released": return try Self.ack(tx, assignment)
            case "completed": throw APIError.conflict("assignment \(assignmentID) was already completed")
            default: break
            }
            guard var copy = try CopyRecord.find(tx.db, assignment.copyId) else { throw APIError.notFound("assignment '\(assignmentID)'") }
            let job = try JobRecord.find(tx.db, copy.jobId)
            let released = request.reason == FailRequest.released
            let live = copy.state == "leased" && copy.assignmentId == assignment.id
            var reason = request.reason
            if let message = request.message, !message.isEmpty { reason += ": " + message.prefix(2000) }
            assignment.state = released ? "released" : "failed"
            assignment.finishedAt = tx.now
            assignment.failReason = reason
            assignment.usage = usage
            assignment.counted = live
            try assignment.update(tx.db)
            if live {
                copy.runnerId = nil
                copy.leaseExpiresAt = nil
                copy.progress = nil
                if released {
                    copy.state = "queued"
                    tx.counters.requeued += 1
                } else {
                    copy.attempts += 1
                    copy.failReason = reason
                    copy.state = copy.attempts >= tx.config.maxAttempts ? "failed" : "queued"
                    tx.counters.failed += 1
                }
                try copy.update(tx.db)
                tx.emit("copy", job: job, ["copy_id": String(copy.id!), "state": copy.state, "reason": request.reason])
                if copy.state == "queued" {
                    tx.workAvailable = true
                } else {
                    try Self.failUnit(tx, unitID: copy.unitId, reason: "a copy failed \(copy.attempts) times; last: \(reason)")
                }
            }
            return try Self.ack(tx, assignment)
        }
    }

    /// Remembers that a runner token (a volunteer) uploaded `digest`: `complete` accepts only such a blob.
    public func recordUpload(_ identity: Identity, blob digest: String) async throws {
        try await store.write { db in try Self.recordUpload(db, digest, tokenID: identity.tokenID) }
    }

    static func recordUpload(_ db: Database, _ digest: String, tokenID: Int64) throws {
        try db.run(sql: "INSERT OR IGNORE INTO blob_upload (digest, token_id) VALUES (?, ?)", arguments: [digest, tokenID])
    }

    /// Did one of these tokens upload `digest`?
    static func uploaded(_ db: Database, _ digest: String, by tokenIDs: [Int64]) throws -> Bool {
        try tokenIDs.contains { try db.int(sql: "SELECT 1 FROM blob_upload WHERE digest = ? AND token_id = ?", arguments: [digest, $0]) != nil }
    }

    static func ownedAssignment(_ db: Database, _ runner: RunnerRecord, _ assignmentID: String) throws -> AssignmentRecord {
        let id = try parseID(assignmentID, "assignment")
        guard let assignment = try AssignmentRecord.find(db, id) else { throw APIError.notFound("assignment '\(assignmentID)'") }
        guard assignment.runnerId == runner.id else {
            throw APIError.forbidden("assignment \(assignmentID) belongs to another runner")
        }
        return assignment
    }

    static func ack(_ tx: Transaction, _ assignment: AssignmentRecord) throws -> AssignmentAck {
        let copyState = try tx.db.string(sql: "SELECT state FROM copy WHERE id = ?", arguments: [assignment.copyId]) ?? "unknown"
        return AssignmentAck(assignmentID: String(assignment.id!), state: assignment.state, copyState: copyState, counted: assignment.counted)
    }

    // MARK: Quorum

    /// Validates a unit's uploaded copies: a quorum of distinct volunteers on one output digest makes
    /// it canonical; agreeing copies are valid, the others invalid. No agreement and nothing left
    /// running → one more copy, up to `replicas + maxExtraCopies` and while some registered volunteer
    /// has not answered yet; then the unit fails as `inconclusive`, naming the digests.
    static func evaluate(_ tx: Transaction, unitID: Int64) throws {
        guard let unit = try UnitRecord.find(tx.db, unitID), let job = try JobRecord.find(tx.db, unit.jobId) else { return }
        try evaluate(tx, unit: unit, job: job)
    }

    /// `evaluate` with the unit and job already read in this transaction.
    static func evaluate(_ tx: Transaction, unit: UnitRecord, job: JobRecord) throws {
        var unit = unit
        var job = job
        let unitID = unit.id!
        let rows = try tx.db.rows(
            sql: """
                SELECT c.*, r.token_id AS volunteer_token FROM copy c LEFT JOIN runner r ON r.id = c.runner_id
                WHERE c.unit_id = ? AND c.state = 'uploaded' ORDER BY c.finished_at, c.id
                """,
            arguments: [unitID]
        )
        let uploaded = try rows.map { try CopyRecord(row: $0) }
        let byToken = tx.config.distinctBy == .token
        let volunteers = rows.map { row -> Int64? in byToken ? row["volunteer_token"] : row["runner_id"] }
        if unit.state == "valid" {
            for copy in uploaded { try judge(tx, copy, valid: copy.outputDigest == unit.outputDigest, job: job, unit: unit) }
            return
        }
        guard unit.state == "pending" else { return }
        let quorum = unit.isAggregate ? 1 : job.quorum
        var volunteersByDigest: [String: Set<Int64>] = [:]
        var winner: CopyRecord?
        for (copy, volunteer) in zip(uploaded, volunteers) {
            guard let digest = copy.outputDigest, let volunteer else { continue }
            volunteersByDigest[digest, default: []].insert(volunteer)
            if winner == nil, volunteersByDigest[digest]!.count >= quorum { winner = copy }
        }
        if let winner {
            unit.state = "valid"
            unit.canonicalCopyId = winner.id
            unit.outputDigest = winner.outputDigest
            unit.blobDigest = winner.blobDigest
            try unit.update(tx.db)
            for copy in uploaded { try judge(tx, copy, valid: copy.outputDigest == winner.outputDigest, job: job, unit: unit) }
            // Copies still queued or running are no longer needed: heartbeats now answer abort for them.
            try tx.db.run(
                sql: """
                    UPDATE copy SET state = 'cancelled', lease_expires_at = NULL, finished_at = ?
                    WHERE unit_id = ? AND state IN ('queued', 'leased')
                    """,
                arguments: [tx.now, unitID]
            )
            tx.emit("unit", job: job, ["unit_id": unit.name, "state": "valid", "output_digest": unit.outputDigest ?? ""])
            if unit.isAggregate {
                job.resultDigest = unit.blobDigest
                try finishJob(tx, &job, state: "completed", reason: nil)
                return
            }
            job.unitsValid += 1
            if job.unitsValid == job.unitsTotal {
                if job.hasAggregate {
                    try createAggregate(tx, job: job, codeFiles: unit.files)
                    try setState(tx, &job, "aggregating")
                } else {
                    try finishJob(tx, &job, state: "completed", reason: nil)
                    return
                }
            }
            try tx.db.run(sql: "UPDATE job SET units_valid = ? WHERE id = ?", arguments: [job.unitsValid, job.id!])
            try settleContinuingJob(tx, &job)  // on_unit_failure: continue, and this was the last unit left
            return
        }
        let active =
            try tx.db.int(sql: "SELECT COUNT(*) FROM copy WHERE unit_id = ? AND state IN ('queued', 'leased')", arguments: [unitID])
            ?? 0
        guard active == 0 else { return }
        let atBound = unit.copiesTotal >= job.replicas + tx.config.maxExtraCopies || unit.isAggregate
        let everyoneAnswered = try !atBound && volunteersWithoutOutput(tx, unitID: unitID) == 0
        if !atBound && !everyoneAnswered {
            var extra = CopyRecord(id: nil, jobId: job.id!, unitId: unitID, state: "queued", createdAt: tx.now)
            try extra.insert(tx.db)
            unit.copiesTotal += 1
            try unit.update(tx.db)
            tx.workAvailable = true
            tx.emit("unit", job: job, ["unit_id": unit.name, "state": "pending", "extra_copy": String(extra.id!)])
        } else {
            let why = atBound ? "the most copies this orchestrator runs" : "every registered volunteer has run it"
            let reason = "inconclusive: " + Self.inconclusive(uploaded, quorum: quorum) + " (\(why)); "
                + "outputs differ between runs: make the unit deterministic, or use replicas 1"
            try failUnit(tx, unitID: unitID, reason: reason)
        }
    }

    /// "3 copies, 3 different outputs (1a2b3c4d5e6f, …)": what disagreed, for the unit's failure reason.
    static func inconclusive(_ uploaded: [CopyRecord], quorum: Int) -> String {
        var counts: [String: Int] = [:]
        for digest in uploaded.compactMap(\.outputDigest) { counts[digest, default: 0] += 1 }
        let listed = counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(5).map { digest, count in
            String(digest.prefix(12)) + (count > 1 ? "×\(count)" : "")
        }
        let more = counts.count > listed.count ? ", …" : ""
        let agree = counts.count == uploaded.count ? "" : ", no \(quorum) agree"
        return "\(uploaded.count) copies, \(counts.count) different outputs\(agree) (\(listed.joined(separator: ", "))\(more))"
    }

    /// Marks an uploaded copy valid or invalid and moves its volunteer's reputation.
    static func judge(_ tx: Transaction, _ copy: CopyRecord, valid: Bool, job: JobRecord, unit: UnitRecord) throws {
        try tx.db.run(sql: "UPDATE copy SET state = ? WHERE id = ?", arguments: [valid ? "valid" : "invalid", copy.id!])
        if let runner = copy.runnerId {
            try credit(tx, runner: runner, valid: valid)
            if valid { tx.counters.valid += 1 } else { tx.counters.invalid += 1 }
        }
        tx.emit("copy", job: job, ["unit_id": unit.name, "copy_id": String(copy.id!), "state": valid ? "valid" : "invalid"])
    }

    /// Creates the aggregate unit and its one copy; its inputs are every unit's canonical output.
    static func createAggregate(_ tx: Transaction, job: JobRecord, codeFiles: String) throws {
        let files = (try? JSONDecoder().decode([Assignment.FileRef].self, from: Data(codeFiles.utf8))) ?? []
        let code = files.filter { $0.path.hasPrefix("code/") }
        let encoded = String(decoding: try JSONEncoder().encode(code), as: UTF8.self)
        var unit = UnitRecord(id: nil, jobId: job.id!, name: "aggregate", isAggregate: true, state: "pending", copiesTotal: 1, files: encoded)
        try unit.insert(tx.db)
        var copy = CopyRecord(id: nil, jobId: job.id!, unitId: unit.id!, state: "queued", createdAt: tx.now)
        try copy.insert(tx.db)
        try tx.db.run(
            sql: """
                INSERT OR IGNORE INTO unit_blob (digest, unit_id)
                SELECT blob_digest, ? FROM unit WHERE job_id = ? AND is_aggregate = 0 AND blob_digest IS NOT NULL
                """,
            arguments: [unit.id!, job.id!]
        )
        tx.workAvailable = true
        tx.emit("unit", job: job, ["unit_id": "aggregate", "state": "pending"])
    }
}
