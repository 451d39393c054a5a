/// Everything `wu-orchestrator serve` can be told, with DESIGN.md's defaults.
public struct OrchestratorConfiguration: Sendable {
    /// How SQLite makes commits durable.
    public enum Synchronous: String, Sendable, CaseIterable {
        /// WAL + `synchronous=NORMAL`: a committed transaction survives kill -9; a power loss may drop the last ones.
        case normal
        /// WAL + `synchronous=FULL`: an fsync per commit; survives power loss.
        case full
    }

    /// What makes two copies of one unit come from different volunteers (DESIGN.md).
    public enum DistinctBy: String, Sendable, CaseIterable {
        /// Distinct runner tokens: one token is one volunteer, however many runner ids it registers.
        case token
        /// Distinct runner ids: for an operator's own trusted pool sharing one token.
        case runner
    }

    public var dataDirectory: String
    public var host: String
    public var port: Int
    public var synchronous: Synchronous
    public var leaseSeconds: Int
    public var heartbeatTTLSeconds: Int
    public var requeueSweepSeconds: Int
    public var maxAttempts: Int
    /// Default and ceiling of a claim's long-poll.
    public var defaultClaimWaitSeconds: Int
    public var maxClaimWaitSeconds: Int
    /// Most assignments one claim returns.
    public var maxClaimBatch: Int
    /// Copies beyond `replicas` a unit may get when its replicas disagree; then it fails as inconclusive.
    public var maxExtraCopies: Int
    /// Copies of one unit go to distinct tokens (default) or only to distinct runner ids.
    public var distinctBy: DistinctBy
    /// Runner ids one token may hold at once (those not offline); registering past it is refused.
    public var maxRunnersPerToken: Int
    public var validReward: Int
    public var invalidPenalty: Int
    /// Largest `.wu` body `POST /v1/jobs` accepts.
    public var maxBundleBytes: Int
    /// Largest blob `PUT /v1/blobs/{sha256}` accepts.
    public var maxBlobBytes: Int
    /// Largest JSON request body.
    public var maxJSONBytes: Int
    /// How long a session cookie lives.
    public var sessionSeconds: Int
    /// A connection that sends no complete request head (or sits idle between requests) this long
    /// is closed. A long poll is a request in progress, not an idle connection: it is never cut.
    public var idleTimeoutSeconds = 30
    /// Connections served at once; beyond it the server stops accepting until one closes. One bound
    /// for all, not per address: volunteers behind one NAT share an address.
    public var maxConnections = 16_384
    /// Failed token attempts an address may make per minute before it gets 429 for the rest of it.
    public var maxFailedAuthPerMinute = 60
    /// Serve https with this certificate chain and key (PEM files); plain http when nil.
    public var tls: TLSFiles?

    /// The PEM files `serve --tls-cert/--tls-key` name.
    public struct TLSFiles: Sendable {
        public var certificateChain: String
        public var privateKey: String

        public init(certificateChain: String, privateKey: String) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
        }
    }

    /// What `serve` runs with when neither a flag nor a `WU_…` variable says otherwise.
    public static let defaults = OrchestratorConfiguration()

    public init(
        dataDirectory: String = "./wu-data",
        host: String = "127.0.0.1",
        port: Int = 8080,
        synchronous: Synchronous = .normal,
        leaseSeconds: Int = 75,
        heartbeatTTLSeconds: Int = 45,
        requeueSweepSeconds: Int = 15,
        maxAttempts: Int = 5,
        defaultClaimWaitSeconds: Int = 20,
        maxClaimWaitSeconds: Int = 60,
        maxClaimBatch: Int = 16,
        maxExtraCopies: Int = 3,
        distinctBy: DistinctBy = .token,
        maxRunnersPerToken: Int = 64,
        validReward: Int = 1,
        invalidPenalty: Int = 5,
        maxBundleBytes: Int = 1 << 30,
        maxBlobBytes: Int = 1 << 30,
        maxJSONBytes: Int = 4 << 20,
        sessionSeconds: Int = 12 * 3600
    ) {
        self.dataDirectory = dataDirectory
        self.host = host
        self.port = port
        self.synchronous = synchronous
        self.leaseSeconds = leaseSeconds
        self.heartbeatTTLSeconds = heartbeatTTLSeconds
        self.requeueSweepSeconds = requeueSweepSeconds
        self.maxAttempts = maxAttempts
        self.defaultClaimWaitSeconds = defaultClaimWaitSeconds
        self.maxClaimWaitSeconds = maxClaimWaitSeconds
        self.maxClaimBatch = maxClaimBatch
        self.maxExtraCopies = maxExtraCopies
        self.distinctBy = distinctBy
        self.maxRunnersPerToken = maxRunnersPerToken
        self.validReward = validReward
        self.invalidPenalty = invalidPenalty
        self.maxBundleBytes = maxBundleBytes
        self.maxBlobBytes = maxBlobBytes
        self.maxJSONBytes = maxJSONBytes
        self.sessionSeconds = sessionSeconds
    }

    /// How often a runner should heartbeat: a third of the lease.
    public var heartbeatSeconds: Int { max(1, leaseSeconds / 3) }
}
