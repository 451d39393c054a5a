/// A runner as `GET /v1/runners` shows it.
public struct RunnerView: Codable, Sendable, Equatable {
    public var runnerID: String
    public var name: String
    /// `active` (seen within the heartbeat TTL), `stale` (silent past it), `offline` (silent past 4× it, no leases).
    public var status: String
    public var capacity: Capacity
    public var arch: String
    public var profiles: [String]
    public var version: String
    public var registeredAt: Int64
    public var lastSeenAt: Int64
    public var runningCopies: Int
    public var reputation: Int
    public var consecutiveValid: Int
    public var valid: Int
    public var invalid: Int

    public init(
        runnerID: String,
        name: String,
        status: String,
        capacity: Capacity,
        arch: String,
        profiles: [String],
        version: String,
        registeredAt: Int64,
        lastSeenAt: Int64,
        runningCopies: Int,
        reputation: Int,
        consecutiveValid: Int,
        valid: Int,
        invalid: Int
    ) {
        self.runnerID = runnerID
        self.name = name
        self.status = status
        self.capacity = capacity
        self.arch = arch
        self.profiles = profiles
        self.version = version
        self.registeredAt = registeredAt
        self.lastSeenAt = lastSeenAt
        self.runningCopies = runningCopies
        self.reputation = reputation
        self.consecutiveValid = consecutiveValid
        self.valid = valid
        self.invalid = invalid
    }

    enum CodingKeys: String, CodingKey {
        case runnerID = "runner_id"
        case name, status, capacity, arch, profiles, version
        case registeredAt = "registered_at"
        case lastSeenAt = "last_seen_at"
        case runningCopies = "running_copies"
        case reputation
        case consecutiveValid = "consecutive_valid"
        case valid, invalid
    }
}

/// `GET /v1/runners`.
public struct RunnerList: Codable, Sendable, Equatable {
    public var runners: [RunnerView]
    public init(runners: [RunnerView]) { self.runners = runners }
}

/// One row of `GET /v1/leaderboard`, best first: a volunteer (a runner token), whose runner ids
/// share one reputation.
public struct LeaderboardEntry: Codable, Sendable, Equatable {
    public var rank: Int
    /// The volunteer's name: its runner token's.
    public var name: String
    /// How many runner ids the volunteer has registered.
    public var runners: Int
    public var reputation: Int
    public var consecutiveValid: Int
    public var valid: Int
    public var invalid: Int

    public init(rank: Int, name: String, runners: Int, reputation: Int, consecutiveValid: Int, valid: Int, invalid: Int) {
        self.rank = rank
        self.name = name
        self.runners = runners
        self.reputation = reputation
        self.consecutiveValid = consecutiveValid
        self.valid = valid
        self.invalid = invalid
    }

    enum CodingKeys: String, CodingKey {
        case rank, name, runners, reputation
        case consecutiveValid = "consecutive_valid"
        case valid, invalid
    }
}

/// `GET /v1/leaderboard`.
public struct Leaderboard: Codable, Sendable, Equatable {
    public var runners: [LeaderboardEntry]
    public init(runners: [LeaderboardEntry]) { self.runners = runners }
}

/// `GET /v1/stats`: counts across the orchestrator.
public struct StatsView: Codable, Sendable, Equatable {
    public var jobs: [String: Int]
    public var copies: [String: Int]
    public var runners: [String: Int]
    public var blobs: Int

    public init(jobs: [String: Int], copies: [String: Int], runners: [String: Int], blobs: Int) {
        self.jobs = jobs
        self.copies = copies
        self.runners = runners
        self.blobs = blobs
    }
}

/// `POST /v1/ops/requeue-stale`.
public struct SweepResponse: Codable, Sendable, Equatable {
    public var requeued: Int
    public var failed: Int

    public init(requeued: Int, failed: Int) {
        self.requeued = requeued
        self.failed = failed
    }
}
