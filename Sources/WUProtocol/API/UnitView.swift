/// A unit and its copies, as `GET /v1/jobs/{id}/units` shows them.
public struct UnitView: Codable, Sendable, Equatable {
    public var unitID: String
    public var isAggregate: Bool
    /// `pending`, `valid`, `failed`, `cancelled`.
    public var state: String
    public var outputDigest: String?
    public var blobDigest: String?
    public var failureReason: String?
    public var copies: [CopyView]
    /// For a failed unit: why, in words a requester can act on.
    public var failure: UnitFailure?
    /// For a unit waiting for a runner: why it is not running.
    public var waitingReason: String?

    public init(
        unitID: String,
        isAggregate: Bool,
        state: String,
        outputDigest: String?,
        blobDigest: String?,
        failureReason: String?,
        copies: [CopyView],
        failure: UnitFailure? = nil,
        waitingReason: String? = nil
    ) {
        self.unitID = unitID
        self.isAggregate = isAggregate
        self.state = state
        self.outputDigest = outputDigest
        self.blobDigest = blobDigest
        self.failureReason = failureReason
        self.copies = copies
        self.failure = failure
        self.waitingReason = waitingReason
    }

    enum CodingKeys: String, CodingKey {
        case unitID = "unit_id"
        case isAggregate = "is_aggregate"
        case state
        case outputDigest = "output_digest"
        case blobDigest = "blob_digest"
        case failureReason = "failure_reason"
        case copies
        case failure
        case waitingReason = "waiting_reason"
    }
}

/// One copy of a unit (BOINC's "result").
public struct CopyView: Codable, Sendable, Equatable {
    public var copyID: String
    /// `queued`, `leased`, `uploaded`, `valid`, `invalid`, `failed`, `cancelled`.
    public var state: String
    public var attempts: Int
    public var runnerID: String?
    public var runnerName: String?
    public var assignmentID: String?
    public var progress: Double?
    public var outputDigest: String?
    public var blobDigest: String?
    public var usage: ResourceUsage?
    public var failReason: String?
    public var leaseExpiresAt: Int64?
    public var finishedAt: Int64?

    public init(
        copyID: String,
        state: String,
        attempts: Int,
        runnerID: String?,
        runnerName: String?,
        assignmentID: String?,
        progress: Double?,
        outputDigest: String?,
        blobDigest: String?,
        usage: ResourceUsage?,
        failReason: String?,
        leaseExpiresAt: Int64?,
        finishedAt: Int64?
    ) {
        self.copyID = copyID
        self.state = state
        self.attempts = attempts
        self.runnerID = runnerID
        self.runnerName = runnerName
        self.assignmentID = assignmentID
        self.progress = progress
        self.outputDigest = outputDigest
        self.blobDigest = blobDigest
        self.usage = usage
        self.failReason = failReason
        self.leaseExpiresAt = leaseExpiresAt
        self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case copyID = "copy_id"
        case state, attempts
        case runnerID = "runner_id"
        case runnerName = "runner_name"
        case assignmentID = "assignment_id"
        case progress
        case outputDigest = "output_digest"
        case blobDigest = "blob_digest"
        case usage
        case failReason = "fail_reason"
        case leaseExpiresAt = "lease_expires_at"
        case finishedAt = "finished_at"
    }
}

/// `GET /v1/jobs/{id}/units`.
public struct UnitList: Codable, Sendable, Equatable {
    public var units: [UnitView]
    /// With `?limit=`: the `after` value of the next page, nil on the last one.
    public var next: String?

    public init(units: [UnitView], next: String? = nil) {
        self.units = units
        self.next = next
    }
}
