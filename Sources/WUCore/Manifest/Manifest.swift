/// `WU-MANIFEST.json`: what a job runs and every payload file it carries, pinned by SHA-256.
///
/// The orchestrator and runners keep its bytes exactly as signed; this type is how they read them.
/// Units of measure follow the wire: bytes, millicpus, milliseconds.
public struct Manifest: Codable, Sendable, Equatable {
    /// The entry name of the manifest inside a bundle; always the first entry.
    public static let entryName = "WU-MANIFEST.json"
    /// The format this code writes and reads for a job without an image.
    public static let currentFormat = 1
    /// The format of a manifest with an ``image``: a reader from before images refuses it
    /// ("format 2 is not supported") instead of ignoring the key and running the unit on its own `/usr`.
    public static let imageFormat = 2
    /// The bundle path of a requester's own profile (``profileFile``): a payload file like any other,
    /// pinned in ``files`` and so covered by the signature, but never placed in a unit's tree.
    public static let profileEntryName = "WU-PROFILE.json"
    /// The largest profile file a bundle may carry.
    public static let maxProfileBytes: Int64 = 1 << 20

    public var format: Int
    public var name: String
    public var version: String
    /// argv, run in `/code`; a unit's `args` are appended.
    public var command: [String]
    public var env: [String: String]
    /// A profile name from `sandbox-profiles/`, or, when ``profileFile`` is set, the `name` inside
    /// the requester's own profile (for display; that file is what runs).
    public var profile: String
    /// ``Manifest/profileEntryName`` when the bundle carries its own profile, else nil. The orchestrator
    /// and every runner accept it only when it grants nothing beyond a profile the runner allows.
    public var profileFile: String?
    public var resources: Resources
    public var units: [Unit]
    public var redundancy: Redundancy
    public var aggregate: Aggregate?
    /// What a failed unit does to the job; nil in bundles made before the choice existed, which
    /// means ``OnUnitFailure/failJob``. `wu pack` always writes it, so the signature pins it.
    public var onUnitFailure: OnUnitFailure?
    /// Every payload file, sorted by path; the archive holds them in this order.
    public var files: [File]
    /// The OCI image the units run in, or nil for the profile's binds of the runner's own `/usr`.
    /// Absent from the JSON when nil, so bundles without an image are what they were before.
    public var image: Image?

    public init(
        name: String, version: String, command: [String], env: [String: String] = [:], profile: String = "default",
        resources: Resources = Resources(), units: [Unit], redundancy: Redundancy = Redundancy(), aggregate: Aggregate? = nil,
        files: [File], profileFile: String? = nil, onUnitFailure: OnUnitFailure? = nil, image: Image? = nil
    ) {
        self.format = image == nil ? Manifest.currentFormat : Manifest.imageFormat
        self.name = name
        self.version = version
        self.command = command
        self.env = env
        self.profile = profile
        self.profileFile = profileFile
        self.resources = resources
        self.units = units
        self.redundancy = redundancy
        self.aggregate = aggregate
        self.files = files
        self.onUnitFailure = onUnitFailure
        self.image = image
    }

    enum CodingKeys: String, CodingKey {
        case format, name, version, command, env, profile, resources, units, redundancy, aggregate, files, image
        case profileFile = "profile_file"
        case onUnitFailure = "on_unit_failure"
    }

    /// wu.json's `on_unit_failure`: fail fast, or let the other units finish (HTCondor and Slurm
    /// arrays go on; the job still ends `failed`, and the valid units' outputs can be fetched).
    public enum OnUnitFailure: String, Codable, Sendable, CaseIterable {
        /// The first unit out of attempts fails the job; units still waiting or running are cancelled.
        case failJob = "fail-job"
        /// The other units go on; the job ends `failed` once every unit is valid or failed, without
        /// running the aggregate.
        case `continue` = "continue"
    }

    /// The carried profile's entry in ``files``, when the bundle carries one.
    public var profileFileEntry: File? {
        guard let profileFile else { return nil }
        return files.first { $0.path == profileFile }
    }

    public struct Resources: Codable, Sendable, Equatable {
        public var millicpus: Int
        public var memoryBytes: Int64
        public var diskBytes: Int64
        public var wallTimeMs: Int64
        public var pids: Int
        public var gpus: Int
        /// A `uname -m` value (`x86_64`, `aarch64`) when the code only runs there.
        public var arch: String?

        public init(
            millicpus: Int = 1000, memoryBytes: Int64 = 256 << 20, diskBytes: Int64 = 64 << 20, wallTimeMs: Int64 = 60_000,
            pids: Int = 64, gpus: Int = 0, arch: String? = nil
        ) {
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
    }

    public struct Unit: Codable, Sendable, Equatable {
        public var id: String
        /// Appended to the manifest's `command`.
        public var args: [String]
        /// Bundle paths (`inputs/…`) this unit reads; they appear at `/in/…`.
        public var inputs: [String]

        public init(id: String, args: [String] = [], inputs: [String] = []) {
            self.id = id
            self.args = args
            self.inputs = inputs
        }
    }

    public struct Redundancy: Codable, Sendable, Equatable {
        /// How many distinct runners run each unit.
        public var replicas: Int
        /// How many equal output digests make an output canonical.
        public var quorum: Int

        public init(replicas: Int = 1, quorum: Int = 1) {
            self.replicas = replicas
            self.quorum = quorum
        }
    }

    public struct Aggregate: Codable, Sendable, Equatable {
        /// argv, run in `/code`, with every unit's canonical output at `/in/<unit-id>/`.
        public var command: [String]

        public init(command: [String]) { self.command = command }
    }

    public struct File: Codable, Sendable, Equatable {
        /// `code/…` or `inputs/…`, relative, no `.` or `..` components.
        public var path: String
        /// Lower-case hex SHA-256 of the contents.
        public var sha256: String
        public var size: Int64
        /// Permission bits: 0o644 or 0o755.
        public var mode: Int

        public init(path: String, sha256: String, size: Int64, mode: Int) {
            self.path = path
            self.sha256 = sha256
            self.size = size
            self.mode = mode
        }
    }

    /// The files a unit needs: everything under `code/` plus its own inputs.
    public func files(forUnit unitID: String) -> [File] {
        guard let unit = units.first(where: { $0.id == unitID }) else { return files.filter { $0.path.hasPrefix("code/") } }
        let inputs = Set(unit.inputs)
        return files.filter { $0.path.hasPrefix("code/") || inputs.contains($0.path) }
    }
}
