/// `POST /v1/runners/heartbeat`: the runner is alive; renew the leases it lists.
public struct HeartbeatRequest: Codable, Sendable, Equatable {
    public var runnerID: String
    public var assignments: [Item]

    public init(runnerID: String, assignments: [Item]) {
        self.runnerID = runnerID
        self.assignments = assignments
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case runnerID = "runner_id"
        case assignments
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runnerID = try c.decodeID(forKey: .runnerID)
        assignments = try c.decodeIfPresent([Item].self, forKey: .assignments) ?? []
    }

    public struct Item: Codable, Sendable, Equatable {
        public var assignmentID: String
        /// 0…1, as the unit wrote it to `/run/wu/progress`.
        public var progress: Double?

        public init(assignmentID: String, progress: Double? = nil) {
            self.assignmentID = assignmentID
            self.progress = progress
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case assignmentID = "assignment_id"
            case progress
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            assignmentID = try c.decodeID(forKey: .assignmentID)
            progress = try c.decodeIfPresent(Double.self, forKey: .progress)
            if let progress, !(0...1).contains(progress) {
                throw DecodingError.dataCorruptedError(forKey: .progress, in: c, debugDescription: "progress must be between 0 and 1")
            }
        }
    }
}

/// The answer to a heartbeat: which leases were renewed and which copies to abort.
public struct HeartbeatResponse: Codable, Sendable, Equatable {
    /// Assignments whose lease was renewed.
    public var renewed: [String]
    /// Assignments to stop now: job cancelled or failed, copy no longer needed, lease lost.
    public var abort: [String]
    /// When the renewed leases end, in milliseconds since the epoch.
    public var leaseExpiresAt: Int64

    public init(renewed: [String], abort: [String], leaseExpiresAt: Int64) {
        self.renewed = renewed
        self.abort = abort
        self.leaseExpiresAt = leaseExpiresAt
    }

    enum CodingKeys: String, CodingKey {
        case renewed, abort
        case leaseExpiresAt = "lease_expires_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        renewed = try c.decodeIDs(forKey: .renewed)
        abort = try c.decodeIDs(forKey: .abort)
        leaseExpiresAt = try c.decode(Int64.self, forKey: .leaseExpiresAt)
    }
}
