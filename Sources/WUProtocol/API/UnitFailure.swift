/// Why a unit failed, in words a requester can act on.
public struct UnitFailure: Codable, Sendable, Equatable {
    /// The runner's reason for the last failed copy: `oom`, `timeout`, `disk-exceeded`, `exit-code`,
    /// `signal`, `lease-expired`, `inconclusive`, `profile`, …
    public var reason: String
    /// What happened, the limit hit in human units and the `wu.json` key to raise:
    /// `killed at its memory limit 64M; raise resources.memory`.
    public var message: String
    public var exitCode: Int32?
    public var signal: Int32?
    /// Attempts the failing copy used.
    public var attempts: Int

    public init(reason: String, message: String, exitCode: Int32? = nil, signal: Int32? = nil, attempts: Int) {
        self.reason = reason
        self.message = message
        self.exitCode = exitCode
        self.signal = signal
        self.attempts = attempts
    }

    enum CodingKeys: String, CodingKey {
        case reason, message
        case exitCode = "exit_code"
        case signal, attempts
    }
}
