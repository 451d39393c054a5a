/// What a unit used and how it ended, as the sandbox measured it.
///
/// Runners send it with every completion or failure; `wu run` writes it to `<unit>/usage.json`.
/// Units follow the wire: bytes and milliseconds.
public struct ResourceUsage: Codable, Sendable, Equatable {
    public var wallMs: Int64
    public var cpuUserMs: Int64
    public var cpuSystemMs: Int64
    public var peakMemoryBytes: Int64
    /// Where the kernel reports it (cgroup v2 `pids.peak`, or sampled).
    public var peakPids: Int64?
    /// Set when the unit exited; nil when a signal ended it.
    public var exitCode: Int32?
    /// The signal that ended the unit, if one did.
    public var signal: Int32?
    public var oomKilled: Bool
    public var timedOut: Bool
    public var diskExceeded: Bool
    /// Bytes in `/out` when the unit ended.
    public var outputBytes: Int64
    /// The last 64 KiB of standard output, as UTF-8 (invalid bytes replaced).
    public var stdoutTail: String
    /// The last 64 KiB of standard error, as UTF-8 (invalid bytes replaced).
    public var stderrTail: String
    /// Syscalls the seccomp filter denied, by name, with counts.
    public var deniedSyscalls: [DeniedSyscall]

    public init(
        wallMs: Int64 = 0, cpuUserMs: Int64 = 0, cpuSystemMs: Int64 = 0, peakMemoryBytes: Int64 = 0, peakPids: Int64? = nil,
        exitCode: Int32? = nil, signal: Int32? = nil, oomKilled: Bool = false, timedOut: Bool = false, diskExceeded: Bool = false,
        outputBytes: Int64 = 0, stdoutTail: String = "", stderrTail: String = "", deniedSyscalls: [DeniedSyscall] = []
    ) {
        self.wallMs = wallMs
        self.cpuUserMs = cpuUserMs
        self.cpuSystemMs = cpuSystemMs
        self.peakMemoryBytes = peakMemoryBytes
        self.peakPids = peakPids
        self.exitCode = exitCode
        self.signal = signal
        self.oomKilled = oomKilled
        self.timedOut = timedOut
        self.diskExceeded = diskExceeded
        self.outputBytes = outputBytes
        self.stdoutTail = stdoutTail
        self.stderrTail = stderrTail
        self.deniedSyscalls = deniedSyscalls
    }

    /// The denied calls on one line, most frequent first: `mount×3 bpf×1`; empty when none.
    public var deniedSummary: String {
        deniedSyscalls.map { $0.count == 1 ? $0.name : "\($0.name)×\($0.count)" }.joined(separator: " ")
    }

    /// True when the unit exited 0 and no limit ended it.
    public var succeeded: Bool { exitCode == 0 && signal == nil && !oomKilled && !timedOut && !diskExceeded }

    public struct DeniedSyscall: Codable, Sendable, Equatable {
        public var name: String
        public var count: Int64

        public init(name: String, count: Int64) {
            self.name = name
            self.count = count
        }
    }

    enum CodingKeys: String, CodingKey {
        case wallMs = "wall_ms"
        case cpuUserMs = "cpu_user_ms"
        case cpuSystemMs = "cpu_system_ms"
        case peakMemoryBytes = "peak_memory_bytes"
        case peakPids = "peak_pids"
        case exitCode = "exit_code"
        case signal
        case oomKilled = "oom_killed"
        case timedOut = "timed_out"
        case diskExceeded = "disk_exceeded"
        case outputBytes = "output_bytes"
        case stdoutTail = "stdout_tail"
        case stderrTail = "stderr_tail"
        case deniedSyscalls = "denied_syscalls"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        wallMs = try c.decode(Int64.self, forKey: .wallMs)
        cpuUserMs = try c.decodeIfPresent(Int64.self, forKey: .cpuUserMs) ?? 0
        cpuSystemMs = try c.decodeIfPresent(Int64.self, forKey: .cpuSystemMs) ?? 0
        peakMemoryBytes = try c.decodeIfPresent(Int64.self, forKey: .peakMemoryBytes) ?? 0
        peakPids = try c.decodeIfPresent(Int64.self, forKey: .peakPids)
        exitCode = try c.decodeIfPresent(Int32.self, forKey: .exitCode)
        signal = try c.decodeIfPresent(Int32.self, forKey: .signal)
        oomKilled = try c.decodeIfPresent(Bool.self, forKey: .oomKilled) ?? false
        timedOut = try c.decodeIfPresent(Bool.self, forKey: .timedOut) ?? false
        diskExceeded = try c.decodeIfPresent(Bool.self, forKey: .diskExceeded) ?? false
        outputBytes = try c.decodeIfPresent(Int64.self, forKey: .outputBytes) ?? 0
        stdoutTail = try c.decodeIfPresent(String.self, forKey: .stdoutTail) ?? ""
        stderrTail = try c.decodeIfPresent(String.self, forKey: .stderrTail) ?? ""
        deniedSyscalls = try c.decodeIfPresent([DeniedSyscall].self, forKey: .deniedSyscalls) ?? []
    }
}
