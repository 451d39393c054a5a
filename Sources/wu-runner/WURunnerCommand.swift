import ArgumentParser
import Logging
import ServiceLifecycle
import UnixSignals
import WUCommandLine
import WUCore
import WUClient
import WURunner
#if canImport(Glibc)
import Glibc
#endif

/// `wu-runner`: a volunteer's daemon. Every flag can also come from the environment (`WU_…`).
struct WURunnerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wu-runner",
        abstract: "Run work units for a wu orchestrator, each in its own sandbox, under a hard resource cap.",
        discussion: """
            Every option may also be set in the environment: WU_ORCHESTRATOR, WU_TOKEN, WU_CPUS, WU_MEMORY, WU_DISK, WU_PIDS, \
            WU_MAX_UNITS, WU_WORK_DIR, WU_CA, WU_TRUST (comma-separated), WU_TRUST_DIR, WU_PROFILES, WU_NAME, WU_DRAIN_TIMEOUT, WU_CLAIM_WAIT.
            SIGTERM or SIGINT: stop claiming; with nothing running, exit at once; else let running units finish within \
            --drain-timeout, then release them. A second signal stops and releases them at once.
            Exit status: 0 stopped by a signal, 1 error (not root, the work directory or cgroups cannot be set up), \
            2 invalid input (a bad flag or WU_… variable), 3 the orchestrator refused the token.
            """,
        version: WUVersion.current
    )

    @Option(help: "The orchestrator's URL, e.g. http://10.0.0.5:8080 or https://… (WU_ORCHESTRATOR).")
    var orchestrator: String?
    @Option(help: "Trust only this CA (PEM) for an https orchestrator with a private CA; default the system's roots (WU_CA).")
    var ca: String?
    @Option(help: "A runner token from `wu-orchestrator token create --role runner` (WU_TOKEN).")
    var token: String?
    @Option(help: "CPU cores all units together may use, e.g. 2 or 0.5; at most this machine's (WU_CPUS).")
    var cpus: Double?
    @Option(help: "Memory all units together may use, e.g. 4G; at most this machine's (WU_MEMORY).")
    var memory: String?
    @Option(help: "Disk for the bundle cache and unit directories together, e.g. 10G; a quarter holds the cache (WU_DISK).")
    var disk: String?
    @Option(help: "Processes all units together may have (WU_PIDS).")
    var pids: Int?
    @Option(name: .customLong("max-units"), help: "Units run at once (WU_MAX_UNITS, default \(Defaults.maxUnits)).")
    var maxUnits: Int?
    @Option(name: .customLong("work-dir"), help: "Bundle cache and unit directories; its parent must exist (WU_WORK_DIR, default \(Defaults.workDirectory)).")
    var workDir: String?
    @Option(name: .customLong("trust"), help: "A requester's public key whose jobs this runner runs; repeatable (WU_TRUST).")
    var trust: [String] = []
    @Option(name: .customLong("trust-dir"), help: "Trust every *.pub in this directory (WU_TRUST_DIR).")
    var trustDir: String?
    @Option(help: "Built-in sandbox profiles this runner allows, comma-separated: default, strict (WU_PROFILES, default '\(Defaults.profiles.joined(separator: ","))').")
    var profiles: String?
    @Option(help: "The name shown on the leaderboard (WU_NAME, default the host name).")
    var name: String?
    @Option(name: .customLong("drain-timeout"), help: "Seconds SIGTERM waits for running units (WU_DRAIN_TIMEOUT, default \(Defaults.drainTimeoutSeconds)).")
    var drainTimeout: Int?
    @Option(name: .customLong("claim-wait"), help: "Seconds each claim long-polls (WU_CLAIM_WAIT, default \(Defaults.claimWaitSeconds)).")
    var claimWait: Int?

    func run() async throws {
        let configuration = try runnerConfiguration()
        guard geteuid() == 0 else {
            throw ProgramError(
                "wu-runner must run as root: it holds the volunteer's cap (--cpus, --memory, --pids) with cgroups and gives each unit its own namespaces; start it with sudo or as a system service (`wu doctor` shows what this machine supports)"
            )
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "wu-runner")
        let runner = try Runner(configuration: configuration, logger: logger)
        // Signals are counted here, not by the group: the first drains, a second stops at once.
        let group = ServiceGroup(configuration: .init(services: [.init(service: runner)], gracefulShutdownSignals: [], logger: logger))
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        Task {
            var count = 0
            for await signal in signals {
                count += 1
                if count == 1 {
                    logger.info("\(signal) received: stopping")
                    await group.triggerGracefulShutdown()
                } else {
                    runner.stopNow()
                }
            }
        }
        try await group.run()
    }

    /// The flags, then the `WU_…` variables; anything this machine or this runner cannot honour is refused here.
    func runnerConfiguration() throws -> RunnerConfiguration {
        let env = EnvironmentLookup()
        guard let url = orchestrator ?? env["WU_ORCHESTRATOR"] else { throw ValidationError("give --orchestrator URL or WU_ORCHESTRATOR") }
        guard let token = token ?? env["WU_TOKEN"] else {
            throw ValidationError("give --token or WU_TOKEN (make one with `wu-orchestrator token create --role runner --name NAME`)")
        }
        guard let cpus = try ProcessEnvironment.number(cpus, "WU_CPUS", option: "cpus"), cpus > 0 else { throw ValidationError("give --cpus N (cores all units may use) or WU_CPUS") }
        guard let memoryText = memory ?? env["WU_MEMORY"] else { throw ValidationError("give --memory SIZE (e.g. 4G) or WU_MEMORY") }
        guard let diskText = disk ?? env["WU_DISK"] else { throw ValidationError("give --disk SIZE (e.g. 10G) or WU_DISK") }
        let trustFiles = trust + (env["WU_TRUST"]?.split(separator: ",").map(String.init) ?? [])
        let store: TrustStore
        do {
            store = try TrustStore.load(files: trustFiles, directory: trustDir ?? env["WU_TRUST_DIR"])
        } catch let error as WUError {
            throw ValidationError("\(error.message) — a runner only runs code signed by keys it trusts")
        }
        var configuration = RunnerConfiguration(
            orchestratorURL: url, token: token, name: name ?? env["WU_NAME"] ?? HostInfo.hostname(), millicpus: Int((cpus * 1000).rounded()),
            memoryBytes: try ByteSize.parse(memoryText), diskBytes: try ByteSize.parse(diskText), pids: try ProcessEnvironment.number(pids, "WU_PIDS", option: "pids", minimum: 1),
            maxUnits: try ProcessEnvironment.number(maxUnits, "WU_MAX_UNITS", option: "max-units", default: Defaults.maxUnits, minimum: 1),
            workDirectory: workDir ?? env["WU_WORK_DIR"] ?? Defaults.workDirectory,
            trust: store, profiles: (profiles ?? env["WU_PROFILES"]).map { $0.split(separator: ",").map(String.init) } ?? Defaults.profiles,
            drainTimeoutSeconds: try ProcessEnvironment.number(drainTimeout, "WU_DRAIN_TIMEOUT", option: "drain-timeout", default: Defaults.drainTimeoutSeconds, minimum: 0),
            claimWaitSeconds: try ProcessEnvironment.number(claimWait, "WU_CLAIM_WAIT", option: "claim-wait", default: Defaults.claimWaitSeconds, minimum: 0)
        )
        configuration.caFile = ca ?? env["WU_CA"]
        try configuration.validate()
        return configuration
    }
}

private typealias Defaults = RunnerConfiguration.Defaults

@main
enum WURunnerMain {
    static func main() async {
        await CommandLineExit.main(WURunnerCommand.self, program: "wu-runner", explain: RunnerErrorText.explain)
    }
}

/// `env["WU_…"]` over `ProcessEnvironment`.
struct EnvironmentLookup {
    subscript(_ name: String) -> String? { ProcessEnvironment.value(name) }
}
