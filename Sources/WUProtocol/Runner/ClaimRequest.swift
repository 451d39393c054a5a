/// `POST /v1/runners/claim`: ask for work that fits the runner's free capacity.
public struct ClaimRequest: Codable, Sendable, Equatable {
    public var runnerID: String
    public var free: Capacity
    /// Seconds to long-poll when nothing fits right now (default 20; 0 answers at once).
    public var wait: Int?
    /// At most this many assignments (default 1).
    public var max: Int?

    public init(runnerID: String, free: Capacity, wait: Int? = nil, max: Int? = nil) {
        self.runnerID = runnerID
        self.free = free
        self.wait = wait
        self.max = max
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case runnerID = "runner_id"
        case free, wait, max
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runnerID = try c.decodeID(forKey: .runnerID)
        free = try c.decode(Capacity.self, forKey: .free)
        wait = try c.decodeIfPresent(Int.self, forKey: .wait)
        max = try c.decodeIfPresent(Int.self, forKey: .max)
        if let wait, wait < 0 {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.wait], debugDescription: "wait must not be negative"))
        }
        if let max, max < 1 {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.max], debugDescription: "max must be at least 1"))
        }
    }
}

/// The answer to `claim`: zero or more assignments.
public struct ClaimResponse: Codable, Sendable, Equatable {
    public var assignments: [Assignment]

    public init(assignments: [Assignment]) { self.assignments = assignments }
}

/// One lease on one copy of a unit.
public struct Assignment: Codable, Sendable, Equatable {
    public var assignmentID: String
    public var jobID: String
    public var unitID: String
    /// True for the job's aggregate unit.
    public var isAggregate: Bool
    public var manifestDigest: String
    public var signatureDigest: String
    /// The payload files this unit needs (`code/…` and its inputs), with their digests.
    public var files: [FileRef]
    /// For an aggregate: every unit's canonical output.
    public var aggregateInputs: [AggregateInput]
    public var resources: UnitResources
    public var profile: String
    /// Milliseconds since the epoch when the lease ends unless renewed.
    public var leaseExpiresAt: Int64
    public var attempt: Int

    public init(
        assignmentID: String,
        jobID: String,
        unitID: String,
        isAggregate: Bool,
        manifestDigest: String,
        signatureDigest: String,
        files: [FileRef],
        aggregateInputs: [AggregateInput],
        resources: UnitResources,
        profile: String,
        leaseExpiresAt: Int64,
        attempt: Int
    ) {
        self.assignmentID = assignmentID
        self.jobID = jobID
        self.unitID = unitID
        self.isAggregate = isAggregate
        self.manifestDigest = manifestDigest
        self.signatureDigest = signatureDigest
        self.files = files
        self.aggregateInputs = aggregateInputs
        self.resources = resources
        self.profile = profile
        self.leaseExpiresAt = leaseExpiresAt
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case assignmentID = "assignment_id"
        case jobID = "job_id"
        case unitID = "unit_id"
        case isAggregate = "is_aggregate"
        case manifestDigest = "manifest_digest"
        case signatureDigest = "signature_digest"
        case files
        case aggregateInputs = "aggregate_inputs"
        case resources, profile
        case leaseExpiresAt = "lease_expires_at"
        case attempt
    }

    /// Every id, digest and number is checked here: a runner acts on an assignment only after this
    /// (and takes the command, files, resources and profile from the signed manifest, not from it).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        assignmentID = try c.decodeID(forKey: .assignmentID)
        jobID = try c.decodeID(forKey: .jobID)
        unitID = try c.decodeUnitID(forKey: .unitID)
        isAggregate = try c.decode(Bool.self, forKey: .isAggregate)
        manifestDigest = try c.decodeDigest(forKey: .manifestDigest)
        signatureDigest = try c.decodeDigest(forKey: .signatureDigest)
        files = try c.decode([FileRef].self, forKey: .files)
        aggregateInputs = try c.decode([AggregateInput].self, forKey: .aggregateInputs)
        resources = try c.decode(UnitResources.self, forKey: .resources)
        profile = try c.decodeName(forKey: .profile)
        leaseExpiresAt = try c.decode(Int64.self, forKey: .leaseExpiresAt)
        attempt = try c.decode(Int.self, forKey: .attempt, in: 0...Int.max)
        guard isAggregate || aggregateInputs.isEmpty else {
            throw DecodingError.dataCorruptedError(forKey: .aggregateInputs, in: c, debugDescription: "only an aggregate has aggregate inputs")
        }
    }

    /// A payload file of the bundle: fetch `GET /v1/blobs/{sha256}`.
    public struct FileRef: Codable, Sendable, Equatable {
        public var path: String
        public var sha256: String
        public var size: Int64
        public var mode: Int

        public init(path: String, sha256: String, size: Int64, mode: Int) {
            self.path = path
            self.sha256 = sha256
            self.size = size
            self.mode = mode
        }

        enum CodingKeys: String, CodingKey {
            case path, sha256, size, mode
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            path = try c.decode(String.self, forKey: .path)
            sha256 = try c.decodeDigest(forKey: .sha256)
            size = try c.decode(Int64.self, forKey: .size, in: 0...Int64.max)
            mode = try c.decode(Int.self, forKey: .mode, in: 0...0o7777)
        }
    }

    /// A unit's canonical output, for the aggregate: extract blob `blobDigest` to `/in/<unit_id>/`.
    public struct AggregateInput: Codable, Sendable, Equatable {
        public var unitID: String
        /// SHA-256 of the uploaded output archive (the blob to fetch).
        public var digest: String
        /// The output digest replicas agreed on.
        public var outputDigest: String

        public init(unitID: String, digest: String, outputDigest: String) {
            self.unitID = unitID
            self.digest = digest
            self.outputDigest = outputDigest
        }

        enum CodingKeys: String, CodingKey {
            case unitID = "unit_id"
            case digest
            case outputDigest = "output_digest"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            unitID = try c.decodeUnitID(forKey: .unitID)
            digest = try c.decodeDigest(forKey: .digest)
            outputDigest = try c.decodeDigest(forKey: .outputDigest)
        }
    }
}

/// What a unit needs: the manifest's resources, on the wire.
public struct UnitResources: Codable, Sendable, Equatable {
    public var millicpus: Int
    public var memoryBytes: Int64
    public var diskBytes: Int64
    public var wallTimeMs: Int64
    public var pids: Int
    public var gpus: Int
    public var arch: String?

    public init(millicpus: Int, memoryBytes: Int64, diskBytes: Int64, wallTimeMs: Int64, pids: Int, gpus: Int, arch: String?) {
        self.millicpus = millicpus
        self.memoryBytes = memoryBytes
        self.diskBytes = diskBytes
        self.wallTimeMs = wallTimeMs
        self.pids = pids
        self.gpus = gpus
        self.arch = arch
    }

    enum CodingKeys: String, CodingKey {
        case millicpus
        case memoryBytes = "memory_bytes"
        case diskBytes = "disk_bytes"
        case wallTimeMs = "wall_time_ms"
        case pids, gpus, arch
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        millicpus = try c.decode(Int.self, forKey: .millicpus, in: 0...Int.max)
        memoryBytes = try c.decode(Int64.self, forKey: .memoryBytes, in: 0...Int64.max)
        diskBytes = try c.decode(Int64.self, forKey: .diskBytes, in: 0...Int64.max)
        wallTimeMs = try c.decode(Int64.self, forKey: .wallTimeMs, in: 0...Int64.max)
        pids = try c.decode(Int.self, forKey: .pids, in: 0...Int.max)
        gpus = try c.decode(Int.self, forKey: .gpus, in: 0...Int.max)
        arch = try c.decodeIfPresent(String.self, forKey: .arch)
        if let arch, !WireID.isValidName(arch) {
            throw DecodingError.dataCorruptedError(forKey: .arch, in: c, debugDescription: "'\(arch.prefix(80))' is not an architecture name")
        }
    }

    /// The part of these resources a runner's free capacity must cover.
    public var capacity: Capacity { Capacity(millicpus: millicpus, memoryBytes: memoryBytes, diskBytes: diskBytes, gpus: gpus) }
}
