import FoundationEssentials
import Glibc
import WUCore
import WUProtocol

/// `wu sandbox exec --profile NAME [limits] -- CMD ARGS…`: run one command in the sandbox and pass
/// its exit status through.
///
/// The logic behind the command, shared by the lean `wu` front (which parses plain argument lists
/// itself, ``parse(_:)``) and the full command line's ArgumentParser subcommand (`wu-cli`, for
/// `--help` and anything ``parse(_:)`` declines). Everything here runs on the calling thread: no
/// async runtime, no thread pool, nothing started that the command does not wait for.
public enum SandboxExecCommand {
    /// The parsed arguments.
    public struct Options: Sendable {
        public var profile = "default"
        public var profileDir: String?
        public var memory: String?
        public var cpus: Double?
        public var pids: Int?
        public var disk: String?
        public var wallTime: String?
        public var out: String?
        public var code: String?
        public var input: String?
        public var workdir: String?
        public var environment: [String] = []
        public var usageJSON: String?
        public var noLimits = false
        public var command: [String] = []

        public init() {}

        /// What is wrong with these arguments, if anything.
        public var problem: String? {
            if command.isEmpty { return "give the command after --" }
            for e in environment where !e.contains("=") { return "--env expects KEY=VALUE, got '\(e)'" }
            if disk != nil && out == nil { return "--disk limits /out: give --out DIR too" }
            return nil
        }
    }

    /// Parses `wu sandbox exec [known options] -- CMD…` without ArgumentParser.
    ///
    /// Parsing a whole command tree costs milliseconds in a binary with many commands, more than
    /// the sandbox itself. Returns nil, leaving the arguments to the full command line (which
    /// explains the problem or prints the help), unless they are exactly this plain form.
    /// - Parameter arguments: The whole argv, `arguments[0]` being the program.
    public static func parse(_ arguments: [String]) -> Options? {
        guard arguments.count >= 4, arguments[1] == "sandbox", arguments[2] == "exec" else { return nil }
        var o = Options()
        var i = 3
        while i < arguments.count {
            var arg = arguments[i]
            if arg == "--" {
                o.command = Array(arguments[(i + 1)...])
                break
            }
            if arg == "--no-limits" {
                o.noLimits = true
                i += 1
                continue
            }
            var value: String
            if let eq = arg.firstIndex(of: "="), arg.hasPrefix("--") {
                value = String(arg[arg.index(after: eq)...])
                arg = String(arg[..<eq])
                i += 1
            } else {
                guard i + 1 < arguments.count else { return nil }
                value = arguments[i + 1]
                i += 2
            }
            switch arg {
            case "--profile": o.profile = value
            case "--profile-dir": o.profileDir = value
            case "--memory": o.memory = value
            case "--cpus":
                guard let c = Double(value) else { return nil }
                o.cpus = c
            case "--pids":
                guard let p = Int(value) else { return nil }
                o.pids = p
            case "--disk": o.disk = value
            case "--wall-time": o.wallTime = value
            case "--out": o.out = value
            case "--code": o.code = value
            case "--in": o.input = value
            case "--workdir": o.workdir = value
            case "--env": o.environment.append(value)
            case "--usage-json": o.usageJSON = value
            default: return nil  // --help, a typo, anything else: ArgumentParser explains it
            }
        }
        guard o.problem == nil else { return nil }
        return o
    }

    /// Runs the command on the calling thread (which must outlive the unit: the init's
    /// parent-death signal follows it); returns the exit status for the process: the command's,
    /// 128+N when signal N ended it, 125 when the sandbox itself failed.
    public static func run(_ o: Options) -> Int32 {
        var stderr = StandardError()
        let usage: ResourceUsage
        do {
            // The init first: it makes its namespaces while the profile is loaded and the cgroup
            // claimed (a network namespace costs about as much as both). If it cannot be cloned,
            // the sandbox made at start says why, once the profile and limits are checked.
            let cloned = try? ClonedSandbox()
            var env: [String: String] = [:]
            for e in o.environment {
                let parts = e.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                env[String(parts[0])] = String(parts[1])
            }
            let limits = SandboxRequest.Limits(
                memoryBytes: try o.memory.map { try ByteSize.parse($0) },
                millicpus: o.cpus.map { Int(($0 * 1000).rounded()) },
                pids: o.pids,
                diskBytes: try o.disk.map { try ByteSize.parse($0) },
                wallTimeMs: try o.wallTime.map { try DurationText.parseMilliseconds($0) }
            )
            let request = SandboxRequest(
                command: o.command,
                environment: env,
                workingDirectory: o.workdir ?? (o.code != nil ? "/code" : "/"),
                codeDirectory: o.code,
                inputDirectory: o.input,
                outputDirectory: o.out,
                limits: limits,
                echoOutput: true,
                // A pipe or file on our stdin is passed on; a terminal never is (the unit gets /dev/null).
                stdinDescriptor: isatty(0) == 0 && fcntl(0, F_GETFD) >= 0 ? 0 : nil
            )
            let profile = try SandboxProfile.load(named: o.profile, directory: o.profileDir)
            let cap = o.noLimits ? VolunteerCap.unlimited() : try VolunteerCap.shared(name: "exec")
            let sandbox = try Sandbox(profile: profile, cap: cap)
            usage = try sandbox.runBlocking(request, cloned: cloned).usage
        } catch {
            print("wu sandbox exec: \(error)", to: &stderr)
            return 125
        }
        if let path = o.usageJSON {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(usage), writeFile(Array(data), to: path) else {
                print("wu sandbox exec: cannot write \(path)", to: &stderr)
                return 125
            }
        }
        if usage.timedOut { print("wu sandbox exec: wall-time limit reached, killed", to: &stderr) }
        if usage.oomKilled { print("wu sandbox exec: memory limit reached, OOM-killed", to: &stderr) }
        if usage.diskExceeded { print("wu sandbox exec: disk limit reached, killed", to: &stderr) }
        if !usage.deniedSyscalls.isEmpty { print("wu sandbox exec: denied by the seccomp filter: \(usage.deniedSummary)", to: &stderr) }
        if let code = usage.exitCode { return code }
        return 128 + (usage.signal ?? 0)
    }

    /// ``run(_:)`` on a thread of its own, for async callers (never blocks the cooperative pool).
    public static func runDetached(_ o: Options) async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            DedicatedThread.start { continuation.resume(returning: run(o)) }
        }
    }

    /// Writes diagnostics to standard error.
    struct StandardError: TextOutputStream {
        mutating func write(_ string: String) {
            var s = string
            s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
        }
    }

    static func writeFile(_ data: [UInt8], to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        return n == data.count
    }
}
