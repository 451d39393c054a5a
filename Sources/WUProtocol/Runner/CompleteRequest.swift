/// `POST /v1/assignments/{id}/complete`: the unit ran; here is its output.
public struct CompleteRequest: Codable, Sendable, Equatable {
    public var runnerID: String
    /// SHA-256 of the canonical uncompressed tar of `/out`; replicas are compared on it.
    public var outputDigest: String
    /// SHA-256 of the uploaded output archive (`PUT /v1/blobs/{sha256}` first).
    public var blobDigest: String
    public var usage: ResourceUsage

    public init(runnerID: String, outputDigest: String, blobDigest: String, usage: ResourceUsage) {
        self.runnerID = runnerID
        self.outputDigest = outputDigest
        self.blobDigest = blobDigest
        self.usage = usage
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case runnerID = "runner_id"
        case outputDigest = "output_digest"
        case blobDigest = "blob_digest"
        case usage
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runnerID = try c.decodeID(forKey: .runnerID)
        outputDigest = try c.decodeDigest(forKey: .outputDigest)
        blobDigest = try c.decodeDigest(forKey: .blobDigest)
        usage = try c.decode(ResourceUsage.self, forKey: .usage)
    }
}

/// `POST /v1/assignments/{id}/fail`: the copy could not produce an output.
public struct FailRequest: Codable, Sendable, Equatable {
    /// `released` gives the copy back (runner shutting down) without counting an attempt.
    public static let released = "released"

    public var runnerID: String
    public var reason: String
    public var message: String?
    public var usage: ResourceUsage?

    public init(runnerID: String, reason: String, message: String? = nil, usage: ResourceUsage? = nil) {
        self.runnerID = runnerID
        self.reason = reason
        self.message = message
        self.usage = usage
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case runnerID = "runner_id"
        case reason, message, usage
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runnerID = try c.decodeID(forKey: .runnerID)
        reason = try c.decode(String.self, forKey: .reason)
        message = try c.decodeIfPresent(String.self, forKey: .message)
        usage = try c.decodeIfPresent(ResourceUsage.self, forKey: .usage)
    }
}

/// The answer to `complete` and `fail`; a retry of the same call gets the same answer.
public struct AssignmentAck: Codable, Sendable, Equatable {
    public var assignmentID: String
    /// What the orchestrator recorded for this assignment: `completed`, `failed`, `released`.
    public var state: String
    /// The state of the copy now: `uploaded`, `valid`, `invalid`, `queued`, `failed`, `cancelled`, …
    public var copyState: String
    /// False when the result arrived after the copy was decided or re-leased: recorded, changes nothing.
    public var counted: Bool

    public init(assignmentID: String, state: String, copyState: String, counted: Bool) {
        self.assignmentID = assignmentID
        self.state = state
        self.copyState = copyState
        self.counted = counted
    }

    enum CodingKeys: String, CodingKey {
        case assignmentID = "assignment_id"
        case state
        case copyState = "copy_state"
        case counted
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        assignmentID = try c.decodeID(forKey: .assignmentID)
        state = try c.decode(String.self, forKey: .state)
        copyState = try c.decode(String.self, forKey: .copyState)
        counted = try c.decode(Bool.self, forKey: .counted)
    }
}
