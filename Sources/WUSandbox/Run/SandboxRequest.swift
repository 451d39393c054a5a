/// One unit to run: the command, its environment, the host directories behind its paths, and
/// its limits.
public struct SandboxRequest: Sendable {
    /// argv; `command[0]` is looked up in the sandbox's `PATH` when it has no slash.
    public var command: [String]
    /// The manifest's `env` plus `WU_JOB_ID`, `WU_UNIT_ID`…; on top of the profile's environment.
    public var environment: [String: String]
    public var workingDirectory: String
    /// Host directory bound read-only at `/code`; nil gives an empty `/code`.
    public var codeDirectory: String?
    /// Host directory bound read-only at `/in`; nil gives an empty `/in`.
    public var inputDirectory: String?
    /// Host directory bound read-write at `/out`, on the runner's disk; nil gives a read-only, empty `/out`.
    /// The sandbox gives it to the unit's host uid.
    public var outputDirectory: String?
    /// Host file bound read-write at `/run/wu/progress`; nil for none.
    public var progressFile: String?
    public var limits: Limits
    /// Also copy the unit's stdout and stderr to ours (`wu sandbox exec`).
    public var echoOutput: Bool
    /// How many bytes of each stream the usage keeps.
    public var tailBytes: Int
    /// A descriptor of ours that becomes the unit's standard input; nil gives it `/dev/null`.
    /// Never pass a terminal: the unit would hold the volunteer's tty.
    public var stdinDescriptor: Int32?

    /// Limits of one unit. nil fields fall back to the profile's maximum.
    public struct Limits: Sendable, Equatable {
        public var memoryBytes: Int64?
        public var millicpus: Int?
        public var pids: Int?
        public var diskBytes: Int64?
        public var wallTimeMs: Int64?

        public init(memoryBytes: Int64? = nil, millicpus: Int? = nil, pids: Int? = nil, diskBytes: Int64? = nil, wallTimeMs: Int64? = nil) {
            self.memoryBytes = memoryBytes
            self.millicpus = millicpus
            self.pids = pids
            self.diskBytes = diskBytes
            self.wallTimeMs = wallTimeMs
        }
    }

    public init(
        command: [String],
        environment: [String: String] = [:],
        workingDirectory: String = "/",
        codeDirectory: String? = nil,
        inputDirectory: String? = nil,
        outputDirectory: String? = nil,
        progressFile: String? = nil,
        limits: Limits = .init(),
        echoOutput: Bool = false,
        tailBytes: Int = 64 * 1024,
        stdinDescriptor: Int32? = nil
    ) {
        self.stdinDescriptor = stdinDescriptor
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.codeDirectory = codeDirectory
        self.inputDirectory = inputDirectory
        self.outputDirectory = outputDirectory
        self.progressFile = progressFile
        self.limits = limits
        self.echoOutput = echoOutput
        self.tailBytes = tailBytes
    }
}
