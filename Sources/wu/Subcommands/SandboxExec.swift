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
                command's, 128+N when signal N ended it, 125 when the sandbox itself failed.
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

        @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).")
        var command: [String] = []

        mutating func validate() throws {
            if command.first == "--" { command.removeFirst() }
            guard !command.isEmpty else { throw ValidationError("give the command after --") }
            for e in environment where !e.contains("=") { throw ValidationError("--env expects KEY=VALUE, got '\(e)'") }
            if disk != nil && out == nil { throw ValidationError("--disk limits /out: give --out DIR too") }
        }

        func run() async throws {
            var env: [String: String] = [:]
            for e in environment {
                let parts = e.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                env[String(parts[0])] = String(parts[1])
            }
            let limits = SandboxRequest.Limits(
                memoryBytes: try memory.map { try ByteSize.parse($0) },
                millicpus: cpus.map { Int(($0 * 1000).rounded()) },
                pids: pids,
                diskBytes: try disk.map { try ByteSize.parse($0) },
                wallTimeMs: try wallTime.map { try DurationText.parseMilliseconds($0) }
            )
            let request = SandboxRequest(
                command: command, environment: env, workingDirectory: workdir ?? (code != nil ? "/code" : "/"), codeDirectory: code,
                inputDirectory: input, outputDirectory: out, limits: limits, echoOutput: true,
                // A pipe or file on our stdin is passed on; a terminal never is (the unit gets /dev/null).
                stdinDescriptor: isatty(0) == 0 && fcntl(0, F_GETFD) >= 0 ? 0 : nil)
            let usage: ResourceUsage
            do {
                let profile = try SandboxProfile.load(named: profile, directory: profileDir)
                let cap = noLimits ? VolunteerCap.unlimited() : try VolunteerCap.shared(name: "exec")
                let sandbox = try WUSandbox.Sandbox(profile: profile, cap: cap)
                usage = try await sandbox.run(request).usage
            } catch {
                var stderr = StandardError()
                print("wu sandbox exec: \(error)", to: &stderr)
                throw ExitCode(125)
            }
            if let usageJSON {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                let data = try encoder.encode(usage)
                guard FileManagerLite.write(data: Array(data), to: usageJSON) else {
                    var stderr = StandardError()
                    print("wu sandbox exec: cannot write \(usageJSON)", to: &stderr)
                    throw ExitCode(125)
                }
            }
            var stderr = StandardError()
            if usage.timedOut { print("wu sandbox exec: wall-time limit reached, killed", to: &stderr) }
            if usage.oomKilled { print("wu sandbox exec: memory limit reached, OOM-killed", to: &stderr) }
            if usage.diskExceeded { print("wu sandbox exec: disk limit reached, killed", to: &stderr) }
            if let code = usage.exitCode {
                if code != 0 { throw ExitCode(code) }
            } else {
                throw ExitCode(128 + (usage.signal ?? 0))
            }
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
