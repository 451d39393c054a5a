import ArgumentParser
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

        @OptionGroup var directories: SandboxDirectoryOptions

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

        var options: SandboxExecCommand.Options {
            var o = SandboxExecCommand.Options()
            o.profile = profile
            o.profileDir = profileDir
            o.memory = memory
            o.cpus = cpus
            o.pids = pids
            o.disk = disk
            o.wallTime = wallTime
            o.out = directories.out
            o.code = directories.code
            o.input = directories.input
            o.workdir = directories.workdir
            o.environment = environment
            o.usageJSON = usageJSON
            o.noLimits = noLimits
            o.command = command.first == "--" ? Array(command.dropFirst()) : command
            return o
        }

        func run() async throws {
            let status = await SandboxExecCommand.runDetached(options)
            if status != 0 { throw ExitCode(status) }
        }
    }
}
