/// Why some of a job's units are not running, as `GET /v1/jobs/{id}` tells it (Slurm's REASON column,
/// `condor_q -better-analyze`).
///
/// The orchestrator works it out when the job is read, from the runners registered at that moment and
/// grouped over the waiting units; it is never stored per unit, since runners come and go.
public struct WaitingReason: Codable, Sendable, Equatable {
    /// How many units wait for this reason.
    public var count: Int
    /// A stable name for the reason: see ``Code``.
    public var code: String
    /// The reason in words: `no runner allows profile 'stirct'`, `needs 1 cpu, the largest active runner has 0.5`.
    public var reason: String

    public init(count: Int, code: String, reason: String) {
        self.count = count
        self.code = code
        self.reason = reason
    }

    /// The reasons' names.
    public enum Code {
        /// No runner has ever registered.
        public static let noRunner = "no-runner"
        /// Runners are registered, but none has called within the heartbeat TTL.
        public static let noActiveRunner = "no-active-runner"
        public static let arch = "arch"
        public static let profile = "profile"
        public static let cpus = "cpus"
        public static let memory = "memory"
        public static let disk = "disk"
        public static let gpus = "gpus"
        /// Every active runner able to take the unit already ran a copy of it (replicas need distinct volunteers).
        public static let distinctVolunteer = "distinct-volunteer"
        /// Runners able to take it exist, but all are full.
        public static let busy = "busy"
        /// A runner able to take it has room: it goes at that runner's next claim (behind higher priorities).
        public static let queued = "queued"
        public static let paused = "paused"

        /// The codes saying that no active runner could take the job however long it waits.
        public static let noRunnerFits: Set<String> = [noRunner, noActiveRunner, arch, profile, cpus, memory, disk, gpus]
    }

    /// True when no active runner could ever take these units (a reason `wu submit` warns about).
    public var noRunnerFits: Bool { Code.noRunnerFits.contains(code) }

    /// `3 units wait: no runner allows profile 'stirct'`.
    public var line: String { "\(count) \(count == 1 ? "unit waits" : "units wait"): \(reason)" }
}
