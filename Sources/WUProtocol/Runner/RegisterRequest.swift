/// `POST /v1/runners/register`: who the runner is and the cap it offers.
public struct RegisterRequest: Codable, Sendable, Equatable {
    public var name: String
    /// The volunteer's cap, not the machine.
    public var capacity: Capacity
    /// A `uname -m` value.
    public var arch: String
    /// Sandbox profiles this runner allows.
    public var profiles: [String]
    public var version: String
    /// The id this runner had before a restart: it keeps its reputation, and the copies it held are
    /// requeued at once instead of at lease expiry. Unknown ids register a new runner.
    public var runnerID: String?

    public init(name: String, capacity: Capacity, arch: String, profiles: [String], version: String, runnerID: String? = nil) {
        self.name = name
        self.capacity = capacity
        self.arch = arch
        self.profiles = profiles
        self.version = version
        self.runnerID = runnerID
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, capacity, arch, profiles, version
        case runnerID = "runner_id"
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        capacity = try c.decode(Capacity.self, forKey: .capacity)
        arch = try c.decode(String.self, forKey: .arch)
        profiles = try c.decodeIfPresent([String].self, forKey: .profiles) ?? ["default"]
        version = try c.decodeIfPresent(String.self, forKey: .version) ?? "unknown"
        runnerID = try c.decodeIDIfPresent(forKey: .runnerID)
    }
}

/// The answer to `register`.
public struct RegisterResponse: Codable, Sendable, Equatable {
    public var runnerID: String
    public var leaseSeconds: Int
    public var heartbeatSeconds: Int

    public init(runnerID: String, leaseSeconds: Int, heartbeatSeconds: Int) {
        self.runnerID = runnerID
        self.leaseSeconds = leaseSeconds
        self.heartbeatSeconds = heartbeatSeconds
    }

    enum CodingKeys: String, CodingKey {
        case runnerID = "runner_id"
        case leaseSeconds = "lease_seconds"
        case heartbeatSeconds = "heartbeat_seconds"
    }

    /// The longest lease or heartbeat period a runner accepts: a day. A 0, a negative or a huge value
    /// would spin the heartbeat loop or overflow its sleep.
    public static let maxSeconds = 86_400

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runnerID = try c.decodeID(forKey: .runnerID)
        leaseSeconds = try c.decode(Int.self, forKey: .leaseSeconds, in: 1...Self.maxSeconds)
        heartbeatSeconds = try c.decode(Int.self, forKey: .heartbeatSeconds, in: 1...leaseSeconds)
    }
}
