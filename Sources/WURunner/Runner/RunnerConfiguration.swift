public import WUCore
public import WUProtocol

/// Everything a runner is told at start: where the orchestrator is, the volunteer's cap, what it trusts.
public struct RunnerConfiguration: Sendable {
    public var orchestratorURL: String
    public var token: String
    public var name: String
    /// The volunteer's cap: never the whole machine unless asked.
    public var millicpus: Int
    public var memoryBytes: Int64
    /// The work directory (bundle cache + unit directories) stays under this.
    public var diskBytes: Int64
    public var pids: Int?
    public var maxUnits: Int
    public var workDirectory: String
    public var trust: TrustStore
    public var profiles: [String]
    /// How long SIGTERM waits for running units before releasing them.
    public var drainTimeoutSeconds: Int
    /// Seconds each claim long-polls.
    public var claimWaitSeconds: Int
    public var gpus: Int
    public var arch: String

    public init(
        orchestratorURL: String, token: String, name: String, millicpus: Int, memoryBytes: Int64, diskBytes: Int64, pids: Int? = nil,
        maxUnits: Int = 4, workDirectory: String, trust: TrustStore, profiles: [String] = ["default"], drainTimeoutSeconds: Int = 60,
        claimWaitSeconds: Int = 20, gpus: Int = HostInfo.gpuCount(), arch: String = HostInfo.architecture()
    ) {
        self.orchestratorURL = orchestratorURL
        self.token = token
        self.name = name
        self.millicpus = millicpus
        self.memoryBytes = memoryBytes
        self.diskBytes = diskBytes
        self.pids = pids
        self.maxUnits = maxUnits
        self.workDirectory = workDirectory
        self.trust = trust
        self.profiles = profiles
        self.drainTimeoutSeconds = drainTimeoutSeconds
        self.claimWaitSeconds = claimWaitSeconds
        self.gpus = gpus
        self.arch = arch
    }

    /// A quarter of the disk cap holds the bundle cache; the rest is what units may claim.
    public var cacheBudgetBytes: Int64 { diskBytes / 4 }

    /// What the runner offers the orchestrator.
    public var capacity: Capacity {
        Capacity(millicpus: millicpus, memoryBytes: memoryBytes, diskBytes: diskBytes - cacheBudgetBytes, gpus: gpus)
    }
}
