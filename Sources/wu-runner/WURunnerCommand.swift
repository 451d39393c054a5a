import ArgumentParser
import Logging
import ServiceLifecycle
import UnixSignals
import WUCore
import WURunner

/// `wu-runner`: a volunteer's daemon. Every flag can also come from the environment (`WU_…`).
@main
struct WURunnerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wu-runner",
        abstract: "Run work units for a wu orchestrator, each in its own sandbox, under a hard resource cap.",
        discussion: """
            Every option may also be set in the environment: WU_ORCHESTRATOR, WU_TOKEN, WU_CPUS, WU_MEMORY, WU_DISK, WU_PIDS, \
            WU_MAX_UNITS, WU_WORK_DIR, WU_TRUST (comma-separated), WU_TRUST_DIR, WU_PROFILES, WU_NAME, WU_DRAIN_TIMEOUT.
            SIGTERM or SIGINT: stop claiming, let running units finish within --drain-timeout, then release them.
            """
    )

    @Option(help: "The orchestrator's URL, e.g. http://10.0.0.5:8080 (WU_ORCHESTRATOR).")
    var orchestrator: String?
    @Option(help: "A runner token from `wu-orchestrator token create --role runner` (WU_TOKEN).")
    var token: String?
    @Option(help: "CPU cores all units together may use, e.g. 2 or 0.5 (WU_CPUS).")
    var cpus: Double?
    @Option(help: "Memory all units together may use, e.g. 4G (WU_MEMORY).")
    var memory: String?
    @Option(help: "Disk for the bundle cache and unit directories together, e.g. 10G (WU_DISK).")
    var disk: String?
    @Option(help: "Processes all units together may have (WU_PIDS).")
    var pids: Int?
    @Option(name: .customLong("max-units"), help: "Units run at once (WU_MAX_UNITS, default 4).")
    var maxUnits: Int?
    @Option(name: .customLong("work-dir"), help: "Bundle cache and unit directories (WU_WORK_DIR, default /var/lib/wu-runner).")
    var workDir: String?
    @Option(name: .customLong("trust"), help: "A requester's public key whose jobs this runner runs; repeatable (WU_TRUST).")
    var trust: [String] = []
    @Option(name: .customLong("trust-dir"), help: "Trust every *.pub in this directory (WU_TRUST_DIR).")
    var trustDir: String?
    @Option(help: "Sandbox profiles this runner allows, comma-separated (WU_PROFILES, default 'default').")
    var profiles: String?
    @Option(help: "The name shown on the leaderboard (WU_NAME, default the host name).")
    var name: String?
    @Option(name: .customLong("drain-timeout"), help: "Seconds SIGTERM waits for running units (WU_DRAIN_TIMEOUT, default 60).")
    var drainTimeout: Int?
    @Option(name: .customLong("claim-wait"), help: "Seconds each claim long-polls (default 20).")
    var claimWait: Int = 20

    func run() async throws {
        let env = EnvironmentLookup()
        guard let url = orchestrator ?? env["WU_ORCHESTRATOR"] else { throw ValidationError("give --orchestrator URL or WU_ORCHESTRATOR") }
        guard let token = token ?? env["WU_TOKEN"] else {
            throw ValidationError("give --token or WU_TOKEN (make one with `wu-orchestrator token create --role runner --name NAME`)")
        }
        guard let cpus = cpus ?? env["WU_CPUS"].flatMap(Double.init), cpus > 0 else { throw ValidationError("give --cpus N (cores all units may use) or WU_CPUS") }
        guard let memoryText = memory ?? env["WU_MEMORY"] else { throw ValidationError("give --memory SIZE (e.g. 4G) or WU_MEMORY") }
        guard let diskText = disk ?? env["WU_DISK"] else { throw ValidationError("give --disk SIZE (e.g. 10G) or WU_DISK") }
        let memoryBytes: Int64
        let diskBytes: Int64
        do {
            memoryBytes = try ByteSize.parse(memoryText)
            diskBytes = try ByteSize.parse(diskText)
        } catch let error as WUError {
            throw ValidationError(error.message)
        }
        let trustFiles = trust + (env["WU_TRUST"]?.split(separator: ",").map(String.init) ?? [])
        let store: TrustStore
        do {
            store = try TrustStore.load(files: trustFiles, directory: trustDir ?? env["WU_TRUST_DIR"])
        } catch let error as WUError {
            throw ValidationError("\(error.message) — a runner only runs code signed by keys it trusts")
        }
        let configuration = RunnerConfiguration(
            orchestratorURL: url, token: token, name: name ?? env["WU_NAME"] ?? HostInfo.hostname(), millicpus: Int((cpus * 1000).rounded()),
            memoryBytes: memoryBytes, diskBytes: diskBytes, pids: pids ?? env["WU_PIDS"].flatMap(Int.init),
            maxUnits: maxUnits ?? env["WU_MAX_UNITS"].flatMap(Int.init) ?? 4, workDirectory: workDir ?? env["WU_WORK_DIR"] ?? "/var/lib/wu-runner",
            trust: store, profiles: (profiles ?? env["WU_PROFILES"] ?? "default").split(separator: ",").map(String.init),
            drainTimeoutSeconds: drainTimeout ?? env["WU_DRAIN_TIMEOUT"].flatMap(Int.init) ?? 60, claimWaitSeconds: claimWait
        )

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "wu-runner")
        let runner = Runner(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: runner)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}

/// `env["WU_…"]` over `ProcessEnvironment`.
struct EnvironmentLookup {
    subscript(_ name: String) -> String? { ProcessEnvironment.value(name) }
}
