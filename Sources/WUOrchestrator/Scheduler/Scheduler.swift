import FoundationEssentials
import GRDB
import HTTPTypes
public import Logging
import ServiceLifecycle
import Synchronization
public import WUProtocol

/// The heart of the orchestrator: the runner protocol, leases, quorum, aggregation, job control.
///
/// Every state change is one transaction through the store's group-commit batcher, so a 2xx
/// means committed. A claim is a conditional `UPDATE … WHERE state = 'queued' … RETURNING` inside
/// the write transaction: two runners can never lease the same copy.
public final class Scheduler: Sendable {
    public let store: OrchestratorStore
    public let config: OrchestratorConfiguration
    public let clock: any OrchestratorClock
    let signal = WorkSignal()
    let events: EventHub
    let metrics: OrchestratorMetrics
    let logger: Logger

    public init(
        store: OrchestratorStore,
        config: OrchestratorConfiguration,
        clock: any OrchestratorClock = SystemClock(),
        metrics: OrchestratorMetrics = OrchestratorMetrics(),
        logger: Logger = Logger(label: "wu.orchestrator")
    ) {
        self.store = store
        self.config = config
        self.clock = clock
        self.events = EventHub()
        self.metrics = metrics
        self.logger = logger
    }

    /// Runs `body` in a shared write transaction and publishes what it produced after the commit.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (Transaction) throws -> T) async throws -> T {
        let now = clock.now()
        let config = self.config
        let eventsWanted = events.subscriberCount > 0
        let (value, output) = try await store.write { db -> (T, Transaction.Output) in
            let tx = Transaction(db: db, now: now, config: config, eventsWanted: eventsWanted)
            let value = try body(tx)
            return (value, tx.output)
        }
        publish(output)
        return value
    }

    func publish(_ output: Transaction.Output) {
        if output.workAvailable { signal.notify() }
        for event in output.events { events.publish(event) }
        metrics.record(output.counters)
    }

    /// Stops long-polls: every waiting claim answers at once, and new ones do not wait.
    public func shutdown() { signal.shutdown() }

    // MARK: Runners

    /// Registers a runner under the calling runner token: at most `maxRunnersPerToken` not offline at once.
    public func register(_ identity: Identity, _ request: RegisterRequest) async throws -> RegisterResponse {
        guard (1...200).contains(request.name.count) else { throw APIError.badRequest("name must be 1 to 200 characters") }
        guard (1...64).contains(request.arch.count) else { throw APIError.badRequest("arch must be 1 to 64 characters") }
        guard request.profiles.count <= 64, request.profiles.allSatisfy({ (1...100).contains($0.count) }) else {
            throw APIError.badRequest("profiles must be at most 64 names of 1 to 100 characters")
        }
        let profiles = String(decoding: try JSONEncoder().encode(request.profiles), as: UTF8.self)
        let config = self.config
        let id = try await transaction { tx -> Int64 in
            if let previous = try Self.reregister(tx, identity, request, profiles: profiles) { return previous }
            try Self.checkRunnerLimit(tx, identity)
            var record = RunnerRecord(
                id: nil,
                tokenId: identity.tokenID,
                name: request.name,
                millicpus: request.capacity.millicpus,
                memoryBytes: request.capacity.memoryBytes,
                diskBytes: request.capacity.diskBytes,
                gpus: request.capacity.gpus,
                arch: request.arch,
                profiles: profiles,
                version: String(request.version.prefix(100)),
                registeredAt: tx.now,
                lastSeenAt: tx.now
            )
            try record.insert(tx.db)
            try tx.db.run(sql: "INSERT OR IGNORE INTO volunteer (token_id) VALUES (?)", arguments: [identity.tokenID])
            if tx.eventsWanted {
                tx.events.append(
                    OrchestratorEvent(
                        kind: "runner",
                        jobID: nil,
                        owner: nil,
                        runnerTokenIDs: [identity.tokenID],
                        fields: ["runner_id": String(record.id!), "name": request.name, "status": "active"]
                    )
                )
            }
            return record.id!
        }
        return RegisterResponse(runnerID: String(id), leaseSeconds: config.leaseSeconds, heartbeatSeconds: config.heartbeatSeconds)
    }

    /// A restarted runner naming its previous id: the same row (reputation kept) with its new capacity,
    /// and the copies it held requeued now, since its units died with it. Nil when the id is unknown.
    static func reregister(_ tx: Transaction, _ identity: Identity, _ request: RegisterRequest, profiles: String) throws -> Int64? {
        guard let previous = request.runnerID, let id = Int64(previous), var record = try RunnerRecord.find(tx.db, id) else { return nil }
        guard record.tokenId == identity.tokenID else {
            throw APIError.forbidden("runner \(previous) belongs to another token; register without runner_id")
        }
        record.name = request.name
        record.millicpus = request.capacity.millicpus
        record.memoryBytes = request.capacity.memoryBytes
        record.diskBytes = request.capacity.diskBytes
        record.gpus = request.capacity.gpus
        record.arch = request.arch
        record.profiles = profiles
        record.version = String(request.version.prefix(100))
        record.lastSeenAt = tx.now
        try record.update(tx.db)
        _ = try requeueLeases(tx, matching: "runner_id = :runner", ["runner": id], reason: "runner restarted")
        if tx.eventsWanted {
            tx.events.append(
                OrchestratorEvent(
                    kind: "runner", jobID: nil, owner: nil, runnerTokenIDs: [identity.tokenID],
                    fields: ["runner_id": previous, "name": request.name, "status": "active"]
                )
            )
        }
        return id
    }

    /// The runner named by `runnerID`, which must belong to the caller's token.
    static func ownedRunner(_ tx: Transaction, _ identity: Identity, _ runnerID: String) throws -> RunnerRecord {
        let runner = try ownedRunner(tx.db, identity, runnerID)
        // Seen-times have second resolution: a runner calling many times a second is written once.
        if tx.now - runner.lastSeenAt >= 1000 {
            try tx.db.run(sql: "UPDATE runner SET last_seen_at = ? WHERE id = ?", arguments: [tx.now, runner.id!])
        }
        return runner
    }

    /// `ownedRunner` without noting that it was seen: for reads.
    static func ownedRunner(_ db: Database, _ identity: Identity, _ runnerID: String) throws -> RunnerRecord {
        let id = try parseID(runnerID, "runner")
        guard let runner = try RunnerRecord.find(db, id) else { throw APIError.notFound("runner '\(runnerID)'") }
        guard runner.tokenId == identity.tokenID || identity.role == .admin else {
            throw APIError.forbidden("runner \(runnerID) belongs to another token")
        }
        return runner
    }

    // MARK: Claim

    /// Leases copies that fit the runner's free capacity, long-polling up to `wait` seconds.
    public func claim(_ identity: Identity, _ request: ClaimRequest) async throws -> ClaimResponse {
        try await claim(.identity(identity), request)
    }

    public func claim(_ caller: Caller, _ request: ClaimRequest) async throws -> ClaimResponse {
        let wait = min(request.wait ?? config.defaultClaimWaitSeconds, config.maxClaimWaitSeconds)
        let limit = min(request.max ?? 1, config.maxClaimBatch)
        let deadline = ContinuousClock.now.advanced(by: .seconds(wait))
        let started = ContinuousClock.now
        while true {
            let generation = signal.generation
            let assignments = try await transaction { tx in
                try Self.claimOnce(tx, identity: try tx.authenticate(caller, [.runner, .admin]), request: request, limit: limit)
            }
            if !assignments.isEmpty || wait == 0 || signal.isShutdown {
                metrics.observeClaim(seconds: started.duration(to: .now), count: assignments.count)
                return ClaimResponse(assignments: assignments)
            }
            let signal = self.signal
            let woke = await withGracefulShutdownHandler {
                await signal.wait(after: generation, until: deadline)
            } onGracefulShutdown: {
                signal.shutdown()
            }
            guard woke else {
                metrics.observeClaim(seconds: started.duration(to: .now), count: 0)
                return ClaimResponse(assignments: [])
            }
        }
    }

    static func claimOnce(_ tx: Transaction, identity: Identity, request: ClaimRequest, limit: Int) throws -> [Assignment] {
        let runner = try ownedRunner(tx, identity, request.runnerID)
        let runnerID = runner.id!
        let profiles = profileSet(runner.profiles)
        // The free capacity can never exceed the registered cap.
        var free = Capacity(
            millicpus: min(request.free.millicpus, runner.millicpus),
            memoryBytes: min(request.free.memoryBytes, runner.memoryBytes),
            diskBytes: min(request.free.diskBytes, runner.diskBytes),
            gpus: min(request.free.gpus, runner.gpus)
        )
        let jobs = try JobRecord.fetchAll(
            tx.db.cachedStatement(sql: "SELECT * FROM job WHERE state IN ('pending', 'running', 'aggregating') ORDER BY priority DESC, id")
        )
        var result: [Assignment] = []
        let leaseExpires = tx.now + Int64(tx.config.leaseSeconds) * 1000
        let volunteerColumn = Self.volunteerColumn(tx.config)
        let volunteer = Self.volunteer(of: runner, tx.config)
        for var job in jobs where result.count < limit {
            guard job.arch == nil || job.arch == runner.arch else { continue }
            if let bases = job.profileBases {
                // A carried profile: offered to a runner allowing a base it grants nothing beyond.
                guard !profiles.isDisjoint(with: profileSet(bases)) else { continue }
            } else {
                guard profiles.contains(job.profile) else { continue }
            }
            let needs = Capacity(millicpus: job.millicpus, memoryBytes: job.memoryBytes, diskBytes: job.diskBytes, gpus: job.gpus)
            while result.count < limit, free.fits(needs) {
                // The claim itself: one conditional UPDATE. The inner SELECT picks the oldest queued copy of a
                // unit this runner's volunteer holds or produced no copy of; `AND state = 'queued'` makes the
                // lease conditional.
                guard
                    let row = try tx.db.row(
                        sql: """
                            UPDATE copy SET state = 'leased', runner_id = :runner, leased_at = :now,
                                lease_expires_at = :expires, progress = NULL
                            WHERE id = (
                                SELECT c.id FROM copy c
                                WHERE c.job_id = :job AND c.state = 'queued'
                                  AND NOT EXISTS (
                                      SELECT 1 FROM assignment a
                                      WHERE a.\(volunteerColumn) = :volunteer AND a.unit_id = c.unit_id
                                        AND a.state IN ('leased', 'completed'))
                                ORDER BY c.id LIMIT 1)
                              AND state = 'queued'
                            RETURNING id, unit_id, attempts
                            """,
                        arguments: ["runner": runnerID, "volunteer": volunteer, "now": tx.now, "expires": leaseExpires, "job": job.id!]
                    )
                else { break }
                let copyID: Int64 = row["id"]
                let unitID: Int64 = row["unit_id"]
                let attempts: Int = row["attempts"]
                var assignment = AssignmentRecord(
                    id: nil,
                    copyId: copyID,
                    unitId: unitID,
                    runnerId: runnerID,
                    tokenId: runner.tokenId,
                    state: "leased",
                    leasedAt: tx.now
                )
                try assignment.insert(tx.db)
                try tx.db.run(sql: "UPDATE copy SET assignment_id = ? WHERE id = ?", arguments: [assignment.id!, copyID])
                guard let unit = try UnitRecord.find(tx.db, unitID) else { continue }
                var inputs: [Assignment.AggregateInput] = []
                if unit.isAggregate {
                    inputs = try tx.db.rows(
                        sql: "SELECT name, blob_digest, output_digest FROM unit WHERE job_id = ? AND is_aggregate = 0 ORDER BY id",
                        arguments: [job.id!]
                    ).map { Assignment.AggregateInput(unitID: $0["name"], digest: $0["blob_digest"] ?? "", outputDigest: $0["output_digest"] ?? "") }
                }
                let files = (try? JSONDecoder().decode([Assignment.FileRef].self, from: Data(unit.files.utf8))) ?? []
                result.append(
                    Assignment(
                        assignmentID: String(assignment.id!),
                        jobID: String(job.id!),
                        unitID: unit.name,
                        isAggregate: unit.isAggregate,
                        manifestDigest: job.manifestDigest,
                        signatureDigest: job.signatureDigest,
                        files: files,
                        aggregateInputs: inputs,
                        resources: UnitResources(
                            millicpus: job.millicpus,
                            memoryBytes: job.memoryBytes,
                            diskBytes: job.diskBytes,
                            wallTimeMs: job.wallTimeMs,
                            pids: job.pids,
                            gpus: job.gpus,
                            arch: job.arch
                        ),
                        profile: job.profile,
                        leaseExpiresAt: leaseExpires,
                        attempt: attempts + 1
                    )
                )
                free = free.subtracting(needs)
                tx.counters.claimed += 1
                if job.state == "pending" {
                    job.state = "running"
                    job.startedAt = tx.now
                    try tx.db.run(sql: "UPDATE job SET state = 'running', started_at = ? WHERE id = ?", arguments: [tx.now, job.id!])
                    tx.emit("job", job: job, ["state": "running"])
                }
            }
        }
        if !result.isEmpty {
            tx.emit("runner", job: nil, ["runner_id": String(runnerID), "claimed": String(result.count)])
        }
        return result
    }

    // MARK: Heartbeat

    /// Renews the leases a runner still holds and names the ones to abort.
    public func heartbeat(_ identity: Identity, _ request: HeartbeatRequest) async throws -> HeartbeatResponse {
        try await heartbeat(.identity(identity), request)
    }

    public func heartbeat(_ caller: Caller, _ request: HeartbeatRequest) async throws -> HeartbeatResponse {
        guard request.assignments.count <= 10_000 else { throw APIError.badRequest("too many assignments in one heartbeat") }
        return try await transaction { tx in
            let runner = try Self.ownedRunner(tx, try tx.authenticate(caller, [.runner, .admin]), request.runnerID)
            let expires = tx.now + Int64(tx.config.leaseSeconds) * 1000
            var renewed: [String] = []
            var abort: [String] = []
            for item in request.assignments {
                guard let id = Int64(item.assignmentID),
                    let row = try tx.db.row(
                        sql: """
                            SELECT a.state AS a_state, a.runner_id, c.id AS copy_id, c.state AS c_state, c.assignment_id,
                                   j.state AS j_state
                            FROM assignment a JOIN copy c ON c.id = a.copy_id JOIN job j ON j.id = c.job_id
                            WHERE a.id = ?
                            """,
                        arguments: [id]
                    ),
                    row["runner_id"] as Int64 == runner.id!
                else {
                    abort.append(item.assignmentID)
                    continue
                }
                let live =
                    row["a_state"] as String == "leased" && row["c_state"] as String == "leased"
                    && row["assignment_id"] as Int64? == id
                    && ["pending", "running", "aggregating", "paused"].contains(row["j_state"] as String)
                if live {
                    let progress = item.progress.map { Swift.max(0, Swift.min(1, $0)) }
                    try tx.db.run(
                        sql: "UPDATE copy SET lease_expires_at = ?, progress = COALESCE(?, progress) WHERE id = ?",
                        arguments: [expires, progress, row["copy_id"] as Int64]
                    )
                    renewed.append(item.assignmentID)
                } else {
                    abort.append(item.assignmentID)
                }
            }
            return HeartbeatResponse(renewed: renewed, abort: abort, leaseExpiresAt: expires)
        }
    }
}

/// Decoded profile lists, by their JSON text: a runner's list is read on every claim.
private let profileSets = Mutex<[String: Set<String>]>([:])

private func profileSet(_ json: String) -> Set<String> {
    if let cached = profileSets.withLock({ $0[json] }) { return cached }
    let set = Set((try? JSONDecoder().decode([String].self, from: Data(json.utf8))) ?? [])
    profileSets.withLock { cache in
        if cache.count > 10_000 { cache.removeAll() }
        cache[json] = set
    }
    return set
}
