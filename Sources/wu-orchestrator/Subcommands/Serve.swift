import ArgumentParser
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals
import WUOrchestrator

#if canImport(Glibc)
import Glibc
#endif

extension WUOrchestratorCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the HTTP server and the lease sweeper until SIGTERM or SIGINT.")

        @OptionGroup var data: DataDirOptions

        @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one).")
        var listen: String = "127.0.0.1:8080"

        @Option(help: "Lease length in seconds (env WU_LEASE_SECONDS; default 75).")
        var leaseSeconds: Int?

        @Option(help: "A runner silent this long is stale (env WU_HEARTBEAT_TTL_SECONDS; default 45).")
        var heartbeatTtlSeconds: Int?

        @Option(help: "How often expired leases are requeued (env WU_REQUEUE_SWEEP_SECONDS; default 15).")
        var requeueSweepSeconds: Int?

        @Option(help: "Attempts per copy before its unit fails (env WU_MAX_ATTEMPTS; default 5).")
        var maxAttempts: Int?

        @Option(help: "Reputation a runner gains per valid copy.")
        var validReward: Int = 1

        @Option(help: "Reputation a runner loses per invalid copy.")
        var invalidPenalty: Int = 5

        @Option(help: "Copies a unit may get beyond its replicas when they disagree, before it fails as inconclusive.")
        var maxExtraCopies: Int = 3

        @Option(
            help: """
                Copies of one unit go to distinct volunteers: 'token' (each runner token is one volunteer) or 'runner' (each runner id, \
                for an operator's own trusted pool sharing one token) (env WU_DISTINCT_BY; default token).
                """
        )
        var distinctBy: String?

        @Option(help: "Runner ids one runner token may hold at once; registering more is refused (env WU_MAX_RUNNERS_PER_TOKEN; default 64).")
        var maxRunnersPerToken: Int?

        @Option(help: "SQLite synchronous mode: normal (survives kill -9) or full (survives power loss) (env WU_SYNCHRONOUS; default normal).")
        var synchronous: String?

        func run() async throws {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = .info
                return handler
            }
            let logger = Logger(label: "wu.orchestrator")
            var config = OrchestratorConfiguration(dataDirectory: data.resolved)
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
                throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080")
            }
            config.host = String(listen[..<colon])
            config.port = port
            config.leaseSeconds = try leaseSeconds ?? Environment.int("WU_LEASE_SECONDS") ?? 75
            config.heartbeatTTLSeconds = try heartbeatTtlSeconds ?? Environment.int("WU_HEARTBEAT_TTL_SECONDS") ?? 45
            config.requeueSweepSeconds = try requeueSweepSeconds ?? Environment.int("WU_REQUEUE_SWEEP_SECONDS") ?? 15
            config.maxAttempts = try maxAttempts ?? Environment.int("WU_MAX_ATTEMPTS") ?? 5
            let mode = synchronous ?? Environment.string("WU_SYNCHRONOUS") ?? "normal"
            guard let sync = OrchestratorConfiguration.Synchronous(rawValue: mode) else {
                throw ValidationError("--synchronous must be normal or full")
            }
            config.synchronous = sync
            let distinct = distinctBy ?? Environment.string("WU_DISTINCT_BY") ?? "token"
            guard let rule = OrchestratorConfiguration.DistinctBy(rawValue: distinct) else {
                throw ValidationError("--distinct-by must be token or runner, not '\(distinct)'")
            }
            config.distinctBy = rule
            config.maxRunnersPerToken = try maxRunnersPerToken ?? Environment.int("WU_MAX_RUNNERS_PER_TOKEN") ?? 64
            guard config.maxRunnersPerToken > 0 else { throw ValidationError("--max-runners-per-token must be at least 1") }
            guard validReward >= 0, invalidPenalty >= 0, maxExtraCopies >= 0 else {
                throw ValidationError("--valid-reward, --invalid-penalty and --max-extra-copies must not be negative")
            }
            config.validReward = validReward
            config.invalidPenalty = invalidPenalty
            config.maxExtraCopies = maxExtraCopies
            guard config.leaseSeconds > 0, config.heartbeatTTLSeconds > 0, config.requeueSweepSeconds > 0, config.maxAttempts > 0 else {
                throw ValidationError("lease, TTL, sweep and attempt settings must be positive")
            }

            // swift-metrics users (Hummingbird's MetricsMiddleware) report into the registry `/metrics` serves.
            let metrics = OrchestratorMetrics()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
            let orchestrator = try Orchestrator(config: config, metrics: metrics, logger: logger)
            let host = config.host
            let dataDirectory = config.dataDirectory
            let app = orchestrator.application(logger: logger) { port in
                print("wu-orchestrator listening on http://\(host):\(port) (data in \(dataDirectory), synchronous=\(mode))")
                fflush(nil)
            }
            let group = ServiceGroup(
                configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            )
            try await group.run()
            try orchestrator.store.checkpoint()
            logger.info("stopped; database checkpointed")
        }
    }
}
