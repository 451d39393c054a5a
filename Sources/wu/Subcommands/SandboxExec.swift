import ArgumentParser
import FoundationEssentials
import Glibc
import WUCore
import WUProtocol
import WUSandbox

extension WU {
    /// `wu sandbox exec --profile NAME [limits] -- CMD ARGS…`
    struct SandboxExec: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "exec",
            abstract: "Run one command in the sandbox and pass its exit status through.",
            discussion: """
                The command runs in all namespaces, on a fresh root with the profile's read-only binds, \
                with no capabilities, the profile's seccomp filter and its own cgroups. Exit status: the \
                command's, 128+N when signal N ended it, 125 when the sandbox itself failed. A piped \
                standard input is passed on; a terminal never is.
                """
        )

        @Option(help: "Sandbox profile (built in: default, strict).")
        var profile = "default"

        @Option(help: "Directory whose <name>.json overrides the built-in profiles.")
        var profileDir: String?

        @Option(help: "Memory limit, e.g. 256M.")
        var memory: String?

        @Option(help: "CPU quota in CPUs, e.g. 0.5.")
        var cpus: Double?

        @Option(help: "Maximum number of processes and threads.")
        var pids: Int?

        @Option(help: "Limit of /out, e.g. 64M (needs --out).")
        var disk: String?

        @Option(help: "Wall-clock limit, e.g. 10s.")
        var wallTime: String?

        @Option(help: "Host directory bound read-write at /out.")
        var out: String?

        @Option(help: "Host directory bound read-only at /code.")
        var code: String?

        @Option(name: .customLong("in"), help: "Host directory bound read-only at /in.")
        var input: String?

        @Option(help: "Working directory inside the sandbox.")
        var workdir: String?

        @Option(name: .customLong("env"), help: "KEY=VALUE added to the environment (repeatable).")
        var environment: [String] = []

        @Option(help: "Write the resource usage as JSON to this file.")
        var usageJSON: String?

        @Flag(help: "Run without cgroup limits (when this host cannot apply them).")
        var noLimits = false

        @Argument(parsing: .postTerminator, help: "The command and its arguments (after --).")
        var command: [String] = []

        mutating func validate() throws {
            if command.first == "--" { command.removeFirst() }
            var options = options
            options.command = command
            if let problem = options.problem { throw ValidationError(problem) }
        }

        var options: Options {
            Options(
                profile: profile,
                profileDir: profileDir,
                memory: memory,
                cpus: cpus,
                pids: pids,
                disk: disk,
                wallTime: wallTime,
                out: out,
                code: code,
                input: input,
                workdir: workdir,
                environment: environment,
                usageJSON: usageJSON,
                noLimits: noLimits,
                command: command.first == "--" ? Array(command.dropFirst()) : command
            )
        }

        func run() async throws {
            let status = await Self.execute(options)
            if status != 0 { throw ExitCode(status) }
        }

        /// The parsed arguments, shared by ArgumentParser and the fast path.
        struct Options {
            var profile = "default"
            var profileDir: String?
            var memory: String?
            var cpus: Double?
            var pids: Int?
            var disk: String?
            var wallTime: String?
            var out: String?
            var code: String?
            var input: String?
            var workdir: String?
            var environment: [String] = []
            var usageJSON: String?
            var noLimits = false
            var command: [String] = []

            /// What is wrong with these arguments, if anything.
            var problem: String? {
                if command.isEmpty { return "give the command after --" }
                for e in environment where !e.contains("=") { return "--env expects KEY=VALUE, got '\(e)'" }
                if disk != nil && out == nil { return "--disk limits /out: give --out DIR too" }
                return nil
            }
        }

        /// Runs the command; returns the exit status for the process.
        static func execute(_ o: Options) async -> Int32 {
            var stderr = StandardError()
            let usage: ResourceUsage
            do {
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
                let sandbox = try WUSandbox.Sandbox(profile: profile, cap: cap)
                usage = try await sandbox.run(request).usage
            } catch {
                print("wu sandbox exec: \(error)", to: &stderr)
                return 125
            }
            if let path = o.usageJSON {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                guard let data = try? encoder.encode(usage), FileManagerLite.write(data: Array(data), to: path) else {
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

        /// `wu sandbox exec …` without ArgumentParser, for the root command's `main` to try first.
        ///
        /// Parsing the whole command tree costs several milliseconds of protocol-conformance scans
        /// in a binary this size, more than the sandbox itself. Returns nil, leaving the arguments to
        /// ArgumentParser, unless they are exactly `sandbox exec [known options] -- CMD…`.
        static func fastMain(_ arguments: [String]) async -> Int32? {
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
            return await execute(o)
        }
    }
}

/// Writes diagnostics to standard error.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var s = string
        s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// Small file writes without Foundation's FileManager.
enum FileManagerLite {
    static func write(data: [UInt8], to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        return n == data.count
    }
}
