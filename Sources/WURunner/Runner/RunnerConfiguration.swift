public import WUCore
import WUClient
public import WUProtocol
import WUProfiles
#if canImport(Glibc)
import Glibc
#endif

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
    /// A private CA (PEM) that signed the orchestrator's certificate; nil trusts the system's roots.
    public var caFile: String?

    /// `wu-runner`'s defaults, in one place: the initializer, the flags' help and the `WU_…`
    /// fallbacks read them here.
    public enum Defaults {
        public static let maxUnits = 4
        public static let workDirectory = "/var/lib/wu-runner"
        public static let profiles = ["default"]
        public static let drainTimeoutSeconds = 60
        public static let claimWaitSeconds = 20
    }

    public init(
        orchestratorURL: String, token: String, name: String, millicpus: Int, memoryBytes: Int64, diskBytes: Int64, pids: Int? = nil,
        maxUnits: Int = Defaults.maxUnits, workDirectory: String, trust: TrustStore, profiles: [String] = Defaults.profiles,
        drainTimeoutSeconds: Int = Defaults.drainTimeoutSeconds, claimWaitSeconds: Int = Defaults.claimWaitSeconds, gpus: Int = HostInfo.gpuCount(), arch: String = HostInfo.architecture()
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

    /// Refuses at start what would otherwise fail later or forever: a URL without a scheme (retried
    /// for ever), a cap larger than the machine, a profile no runner has, a work directory whose parent
    /// is missing (it would be created from `/`).
    ///
    /// - Throws: `WUError.invalidArgument` naming the flag and, for caps, this machine's figures.
    public func validate() throws {
        _ = try OrchestratorClient.http(trustingCA: caFile)  // a bad --ca is one error at start, not a failed handshake per request
        guard orchestratorURL.hasPrefix("http://") || orchestratorURL.hasPrefix("https://") else {
            throw WUError(
                .invalidArgument, "--orchestrator must start with http:// or https://, e.g. http://\(orchestratorURL), not '\(orchestratorURL)'"
            )
        }
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if millicpus > cores * 1000 {
            throw WUError(.invalidArgument, "--cpus \(Double(millicpus) / 1000) is more than this machine's \(cores) CPU(s); give at most \(cores)")
        }
        let physical = Int64(sysconf(Int32(_SC_PHYS_PAGES))) * Int64(sysconf(Int32(_SC_PAGESIZE)))
        if memoryBytes > physical {
            throw WUError(
                .invalidArgument, "--memory \(ByteSize.format(memoryBytes)) is more than this machine's \(ByteSize.format(physical)); give at most that"
            )
        }
        let known = SandboxProfile.builtinNames
        if let unknown = profiles.first(where: { !known.contains($0) }) {
            throw WUError(.invalidArgument, "--profiles: no built-in profile is named '\(unknown)'; choose from \(known.joined(separator: ", "))")
        }
        guard maxUnits >= 1, drainTimeoutSeconds >= 0, claimWaitSeconds >= 1 else {
            throw WUError(.invalidArgument, "--max-units and --claim-wait must be at least 1, and --drain-timeout at least 0")
        }
        var path = Substring(workDirectory)
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var st = stat()
        if !parent.isEmpty && (stat(parent, &st) != 0 || st.st_mode & S_IFMT != S_IFDIR) {
            throw WUError(.invalidArgument, "--work-dir \(workDirectory): its parent \(parent) is not an existing directory; create it first or choose another")
        }
    }
}
