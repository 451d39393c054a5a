/// `POST /v1/jobs` answers this.
public struct SubmitJobResponse: Codable, Sendable, Equatable {
    public var jobID: String
    public var name: String
    public var state: String
    public var units: Int
    public var copies: Int
    public var priority: Int

    public init(jobID: String, name: String, state: String, units: Int, copies: Int, priority: Int) {
        self.jobID = jobID
        self.name = name
        self.state = state
        self.units = units
        self.copies = copies
        self.priority = priority
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case name, state, units, copies, priority
    }
}

/// A job as `GET /v1/jobs/{id}` shows it.
public struct JobView: Codable, Sendable, Equatable {
    public var jobID: String
    public var name: String
    public var version: String
    /// `pending`, `running`, `aggregating`, `completed`, `failed`, `cancelled`, `paused`.
    public var state: String
    public var priority: Int
    public var owner: String
    public var signerKeyID: String
    public var replicas: Int
    public var quorum: Int
    public var hasAggregate: Bool
    public var unitsTotal: Int
    /// Units by state: `pending` (waiting for a runner), `leased` (a copy is running), `valid`,
    /// `failed`, `cancelled`.
    public var units: [String: Int]
    /// Copies by state: `queued`, `leased`, `uploaded`, `valid`, `invalid`, `failed`, `cancelled`.
    public var copies: [String: Int]
    /// Valid units over all units, 0…1.
    public var progress: Double
    public var createdAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    public var failureReasons: [String]
    /// The aggregate's output archive, or nil.
    public var resultDigest: String?
    /// Why units wait, grouped by reason; empty when none waits.
    public var waiting: [WaitingReason]
    /// What the job does when a unit fails: `fail-job` or `continue` (wu.json's `on_unit_failure`).
    public var onUnitFailure: String

    public init(
        jobID: String,
        name: String,
        version: String,
        state: String,
        priority: Int,
        owner: String,
        signerKeyID: String,
        replicas: Int,
        quorum: Int,
        hasAggregate: Bool,
        unitsTotal: Int,
        units: [String: Int],
        copies: [String: Int],
        progress: Double,
        createdAt: Int64,
        startedAt: Int64?,
        finishedAt: Int64?,
        failureReasons: [String],
        resultDigest: String?,
        waiting: [WaitingReason] = [],
        onUnitFailure: String = "fail-job"
    ) {
        self.jobID = jobID
        self.name = name
        self.version = version
        self.state = state
        self.priority = priority
        self.owner = owner
        self.signerKeyID = signerKeyID
        self.replicas = replicas
        self.quorum = quorum
        self.hasAggregate = hasAggregate
        self.unitsTotal = unitsTotal
        self.units = units
        self.copies = copies
        self.progress = progress
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.failureReasons = failureReasons
        self.resultDigest = resultDigest
        self.waiting = waiting
        self.onUnitFailure = onUnitFailure
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case name, version, state, priority, owner
        case signerKeyID = "signer_key_id"
        case replicas, quorum
        case hasAggregate = "has_aggregate"
        case unitsTotal = "units_total"
        case units, copies, progress
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case failureReasons = "failure_reasons"
        case resultDigest = "result_digest"
        case waiting
        case onUnitFailure = "on_unit_failure"
    }

    /// True once the job can change no more.
    public var isFinished: Bool { ["completed", "failed", "cancelled"].contains(state) }
}

/// `GET /v1/jobs`.
public struct JobList: Codable, Sendable, Equatable {
    public var jobs: [JobView]
    public init(jobs: [JobView]) { self.jobs = jobs }
}
