import ArgumentParser
import Logging
import Metrics
import Prometheus
import NIOCore
import ServiceLifecycle
import UnixSignals
import WUCommandLine
import WUCore
import WUOrchestrator

#if canImport(Glibc)
import Glibc
#endif

/// The defaults live in one place, `OrchestratorConfiguration`'s initializer: the help texts and
/// the fallbacks below read them there.
private let defaults = OrchestratorConfiguration.defaults

extension WUOrchestratorCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the HTTP server and the lease sweeper until SIGTERM or SIGINT.")

        @OptionGroup var data: DataDirOptions

        @Option(help: "Address to listen on, HOST:PORT; port 0 picks a free one (env WU_LISTEN; default \(defaults.host):\(defaults.port)).")
        var listen: String?

        @Option(help: "Lease length in seconds (env WU_LEASE_SECONDS; default \(defaults.leaseSeconds)).")
        var leaseSeconds: Int?

        @Option(help: "A runner silent this long is stale (env WU_HEARTBEAT_TTL_SECONDS; default \(defaults.heartbeatTTLSeconds)).")
        var heartbeatTtlSeconds: Int?

        @Option(help: "How often expired leases are requeued (env WU_REQUEUE_SWEEP_SECONDS; default \(defaults.requeueSweepSeconds)).")
        var requeueSweepSeconds: Int?

        @Option(help: "Attempts per copy before its unit fails (env WU_MAX_ATTEMPTS; default \(defaults.maxAttempts)).")
        var maxAttempts: Int?

        @Option(help: "Reputation a runner gains per valid copy (env WU_VALID_REWARD; default \(defaults.validReward)).")
        var validReward: Int?

        @Option(help: "Reputation a runner loses per invalid copy (env WU_INVALID_PENALTY; default \(defaults.invalidPenalty)).")
        var invalidPenalty: Int?

        @Option(help: "Copies a unit may get beyond its replicas when they disagree, before it fails as inconclusive (env WU_MAX_EXTRA_COPIES; default \(defaults.maxExtraCopies)).")
        var maxExtraCopies: Int?

        @Option(
            help: """
                Copies of one unit go to distinct volunteers: 'token' (each runner token is one volunteer) or 'runner' (each runner id, \
                for an operator's own trusted pool sharing one token) (env WU_DISTINCT_BY; default \(defaults.distinctBy.rawValue)).
                """
        )
        var distinctBy: String?

        @Option(help: "Runner ids one runner token may hold at once; registering more is refused (env WU_MAX_RUNNERS_PER_TOKEN; default \(defaults.maxRunnersPerToken)).")
        var maxRunnersPerToken: Int?

        @Option(help: "SQLite synchronous mode: normal (survives kill -9) or full (survives power loss) (env WU_SYNCHRONOUS; default \(defaults.synchronous.rawValue)).")
        var synchronous: String?

        @Option(help: "Seconds a connection may sit idle, or in an unfinished request head, before it is closed; a long poll is never cut (env WU_IDLE_TIMEOUT_SECONDS; default \(defaults.idleTimeoutSeconds)).")
        var idleTimeoutSeconds: Int?

        @Option(help: "Connections served at once, for all clients together (env WU_MAX_CONNECTIONS; default \(defaults.maxConnections)).")
        var maxConnections: Int?

        @Option(help: "Failed token attempts an address may make per minute before it gets 429 for the rest of it (env WU_MAX_FAILED_AUTH_PER_MINUTE; default \(defaults.maxFailedAuthPerMinute)).")
        var maxFailedAuthPerMinute: Int?

        @Option(help: "Serve https with this PEM certificate chain; needs --tls-key (env WU_TLS_CERT).")
        var tlsCert: String?

        @Option(help: "The PEM private key of --tls-cert (env WU_TLS_KEY).")
        var tlsKey: String?

        func run() async throws {
            let config = try serverConfiguration()
            let mode = config.synchronous.rawValue
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = .info
                return handler
            }
            let logger = Logger(label: "wu.orchestrator")
            // swift-metrics users (Hummingbird's MetricsMiddleware) report into the registry `/metrics` serves.
            let metrics = OrchestratorMetrics()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
            let orchestrator: Orchestrator
            do {
                orchestrator = try Orchestrator(config: config, metrics: metrics, logger: logger)
            } catch {
                throw DataDirOptions.openingFailed(config.dataDirectory, error)
            }
            let host = config.host
            let dataDirectory = config.dataDirectory
            let scheme = config.tls == nil ? "http" : "https"
            let app = try orchestrator.application(logger: logger) { port in
                print("wu-orchestrator listening on \(scheme)://\(host):\(port) (data in \(dataDirectory), synchronous=\(mode))")
                fflush(nil)
            }
            let group = ServiceGroup(
                configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            )
            do {
                try await group.run()
            } catch let error as IOError {
                throw ServeErrorText.listening(error, on: "\(config.host):\(config.port)")
            }
            try orchestrator.store.checkpoint()
            logger.info("stopped; database checkpointed")
        }

        /// The flags, then the `WU_…` variables, then the defaults; a bad value is invalid input (exit 2).
        func serverConfiguration() throws -> OrchestratorConfiguration {
            var config = OrchestratorConfiguration(dataDirectory: data.resolved)
            let address = listen ?? Environment.string("WU_LISTEN") ?? "\(defaults.host):\(defaults.port)"
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
                throw Environment.invalid("--listen (or WU_LISTEN) must be HOST:PORT, e.g. 127.0.0.1:8080, not '\(address)'")
            }
            config.host = String(address[..<colon])
            config.port = port
            config.leaseSeconds = try ProcessEnvironment.number(leaseSeconds, "WU_LEASE_SECONDS", option: "lease-seconds", default: config.leaseSeconds, minimum: 1)
            config.heartbeatTTLSeconds = try ProcessEnvironment.number(heartbeatTtlSeconds, "WU_HEARTBEAT_TTL_SECONDS", option: "heartbeat-ttl-seconds", default: config.heartbeatTTLSeconds, minimum: 1)
            config.requeueSweepSeconds = try ProcessEnvironment.number(requeueSweepSeconds, "WU_REQUEUE_SWEEP_SECONDS", option: "requeue-sweep-seconds", default: config.requeueSweepSeconds, minimum: 1)
            config.maxAttempts = try ProcessEnvironment.number(maxAttempts, "WU_MAX_ATTEMPTS", option: "max-attempts", default: config.maxAttempts, minimum: 1)
            config.validReward = try ProcessEnvironment.number(validReward, "WU_VALID_REWARD", option: "valid-reward", default: config.validReward, minimum: 0)
            config.invalidPenalty = try ProcessEnvironment.number(invalidPenalty, "WU_INVALID_PENALTY", option: "invalid-penalty", default: config.invalidPenalty, minimum: 0)
            config.maxExtraCopies = try ProcessEnvironment.number(maxExtraCopies, "WU_MAX_EXTRA_COPIES", option: "max-extra-copies", default: config.maxExtraCopies, minimum: 0)
            let mode = synchronous ?? Environment.string("WU_SYNCHRONOUS") ?? config.synchronous.rawValue
            guard let sync = OrchestratorConfiguration.Synchronous(rawValue: mode) else {
                throw Environment.invalid("--synchronous (or WU_SYNCHRONOUS) must be normal or full, not '\(mode)'")
            }
            config.synchronous = sync
            // Runners refuse a longer lease (WUProtocol's RegisterResponse.maxSeconds): a hostile
            // orchestrator's huge value would overflow their heartbeat sleep.
            guard config.leaseSeconds <= 86_400 else {
                throw Environment.invalid("--lease-seconds (or WU_LEASE_SECONDS) must be at most 86400 (a day): runners refuse longer leases")
            }
            let distinct = distinctBy ?? Environment.string("WU_DISTINCT_BY") ?? config.distinctBy.rawValue
            guard let rule = OrchestratorConfiguration.DistinctBy(rawValue: distinct) else {
                throw Environment.invalid("--distinct-by (or WU_DISTINCT_BY) must be token or runner, not '\(distinct)'")
            }
            config.distinctBy = rule
            config.maxRunnersPerToken = try ProcessEnvironment.number(maxRunnersPerToken, "WU_MAX_RUNNERS_PER_TOKEN", option: "max-runners-per-token", default: config.maxRunnersPerToken, minimum: 1)
            config.idleTimeoutSeconds = try ProcessEnvironment.number(idleTimeoutSeconds, "WU_IDLE_TIMEOUT_SECONDS", option: "idle-timeout-seconds", default: config.idleTimeoutSeconds, minimum: 1)
            config.maxConnections = try ProcessEnvironment.number(maxConnections, "WU_MAX_CONNECTIONS", option: "max-connections", default: config.maxConnections, minimum: 1)
            config.maxFailedAuthPerMinute = try ProcessEnvironment.number(maxFailedAuthPerMinute, "WU_MAX_FAILED_AUTH_PER_MINUTE", option: "max-failed-auth-per-minute", default: config.maxFailedAuthPerMinute, minimum: 1)
            config.tls = try tlsFiles()
            return config
        }

        /// Both of `--tls-cert` and `--tls-key` (or their variables), or neither.
        func tlsFiles() throws -> OrchestratorConfiguration.TLSFiles? {
            let cert = tlsCert ?? Environment.string("WU_TLS_CERT")
            let key = tlsKey ?? Environment.string("WU_TLS_KEY")
            switch (cert, key) {
            case (nil, nil): return nil
            case let (cert?, key?): return .init(certificateChain: cert, privateKey: key)
            default: throw Environment.invalid("give both --tls-cert and --tls-key (or WU_TLS_CERT and WU_TLS_KEY), or neither")
            }
        }
    }
}
