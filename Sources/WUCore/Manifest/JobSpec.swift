import FoundationEssentials

/// `wu.json`, the requester's description of a job, before `wu pack` pins its files.
///
/// Decoding is strict: an unknown key or a bad value is an error that names the field
/// (`resources.memory`) and says what is allowed.
public struct JobSpec: Sendable, Equatable {
    public static let fileName = "wu.json"

    public var name: String
    public var version: String
    public var command: [String]
    public var env: [String: String]
    /// A built-in profile's name; empty when ``profileFile`` is given.
    public var profile: String
    /// `"profile": {"file": "profile.json"}`: the requester's own profile, a path relative to the job
    /// directory. `wu pack` checks it and carries it as ``Manifest/profileEntryName``.
    public var profileFile: String?
    public var resources: Manifest.Resources
    public var units: Units
    public var redundancy: Manifest.Redundancy
    public var aggregate: Manifest.Aggregate?
    public var onUnitFailure: Manifest.OnUnitFailure = .failJob
    /// `"image": "PATH"`: an OCI image layout directory, an `oci-archive` tar or a rootfs tar inside
    /// the job directory, which `wu pack` pins in the manifest and carries after the payload.
    public var image: String? = nil

    public enum Units: Sendable, Equatable {
        /// An explicit list.
        case list([Manifest.Unit])
        /// One unit per file matching a glob under `inputs/`; `args` come before the file's `/in/…` path.
        case split(pattern: String, args: [String])
    }

    /// Parses and validates `wu.json` bytes.
    ///
    /// - Throws: `WUError.invalidJobSpec` naming the field.
    public static func parse(_ bytes: [UInt8], source: String = JobSpec.fileName) throws -> JobSpec {
        do {
            let spec = try JSONDecoder().decode(Decoded.self, from: Data(bytes))
            return spec.value
        } catch let error as WUError {
            throw WUError(.invalidJobSpec, "\(source): \(error.message)")
        } catch let error as DecodingError {
            // The decoder's "not valid JSON" has no position: find the line and column ourselves.
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty, let problem = JSONProblem.find(in: bytes) {
                throw WUError(.invalidJobSpec, "\(source): \(problem)")
            }
            throw WUError(.invalidJobSpec, "\(source): \(Self.describe(error))")
        } catch {
            throw WUError(.invalidJobSpec, "\(source): \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let text = fieldPath(context.codingPath)
            return text.isEmpty ? "the top level" : text
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context)) has the wrong type: expected \(Self.typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context)) is null: expected \(Self.typeName(type))"
        case .keyNotFound(let key, let context):
            let parent = path(context)
            let field = parent == "the top level" ? key.stringValue : "\(parent).\(key.stringValue)"
            return "\(field) is missing"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON (\(context.debugDescription))" }
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    /// `units[0].id` for a coding path.
    static func fieldPath(_ codingPath: [any CodingKey], appending name: String? = nil) -> String {
        var text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        if let name { text += "." + name }
        return text.hasPrefix(".") ? String(text.dropFirst()) : text
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is [String].Type: "an array of strings"
        case is [String: String].Type: "an object of strings"
        default: "\(type)"
        }
    }
}

/// A coding key for any name, to list the keys an object really has.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

extension Decoder {
    /// Throws when the object at this point has a key outside `allowed`.
    func rejectUnknownKeys(_ allowed: [String]) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            let field = JobSpec.fieldPath(codingPath, appending: key.stringValue)
            throw WUError(.invalidJobSpec, "unknown key '\(field)' (allowed here: \(allowed.joined(separator: ", ")))")
        }
    }

    func field(_ name: String) -> String { JobSpec.fieldPath(codingPath, appending: name) }
}

extension JobSpec {
    /// The decoding shape of `wu.json`; validates as it goes.
    struct Decoded: Decodable {
        let value: JobSpec

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(["name", "version", "command", "env", "profile", "resources", "units", "redundancy", "aggregate", "on_unit_failure", "image"])
            let c = try decoder.container(keyedBy: AnyCodingKey.self)
            func key(_ name: String) -> AnyCodingKey { AnyCodingKey(name) }

            let name = try c.decode(String.self, forKey: key("name"))
            try Validate.identifier(name, field: "name")
            let version = try c.decodeIfPresent(String.self, forKey: key("version")) ?? "1"
            guard !version.isEmpty, version.utf8.count <= 64 else { throw WUError(.invalidJobSpec, "version must be 1 to 64 characters") }
            let command = try c.decode([String].self, forKey: key("command"))
            try Validate.command(command, field: "command")
            let env = try c.decodeIfPresent([String: String].self, forKey: key("env")) ?? [:]
            try Validate.environment(env, field: "env")
            var profile = "default"
            var profileFile: String?
            if c.contains(key("profile")), (try? c.decodeNil(forKey: key("profile"))) != true {
                if let name = try? c.decode(String.self, forKey: key("profile")) {
                    if name.hasSuffix(".json") {
                        throw WUError(.invalidJobSpec, "profile '\(name)' looks like a file: a job's own profile is {\"file\": \"\(name)\"}")
                    }
                    try Validate.identifier(name, field: "profile")
                    profile = name
                } else {
                    let file = try c.decode(ProfileFileSpec.self, forKey: key("profile")).path
                    profile = ""
                    profileFile = file
                }
            }
            let resources = try c.decodeIfPresent(ResourcesSpec.self, forKey: key("resources"))?.value ?? Manifest.Resources()
            guard c.contains(key("units")) else {
                throw WUError(.invalidJobSpec, "units is missing: give a list of {\"id\", \"args\", \"inputs\"} or {\"split\": \"inputs/*.txt\"}")
            }
            let units = try c.decode(UnitsSpec.self, forKey: key("units")).value
            let redundancy = try c.decodeIfPresent(RedundancySpec.self, forKey: key("redundancy"))?.value ?? Manifest.Redundancy()
            let aggregate = try c.decodeIfPresent(AggregateSpec.self, forKey: key("aggregate"))?.value
            var onUnitFailure = Manifest.OnUnitFailure.failJob
            if let text = try c.decodeIfPresent(String.self, forKey: key("on_unit_failure")) {
                guard let choice = Manifest.OnUnitFailure(rawValue: text) else {
                    let allowed = Manifest.OnUnitFailure.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
                    throw WUError(.invalidJobSpec, "on_unit_failure must be \(allowed), got '\(text)'")
                }
                onUnitFailure = choice
            }
            let image = try c.decodeIfPresent(String.self, forKey: key("image"))
            if let image, !Validate.isSafeRelativePath(image) {
                throw WUError(.invalidJobSpec, "image must be a relative path inside the job directory without '..', got '\(image)'")
            }
            value = JobSpec(
                name: name, version: version, command: command, env: env, profile: profile, profileFile: profileFile, resources: resources,
                units: units, redundancy: redundancy, aggregate: aggregate, onUnitFailure: onUnitFailure, image: image
            )
        }
    }

    /// `{"file": "profile.json"}`: a safe path inside the job directory.
    struct ProfileFileSpec: Decodable {
        let path: String

        init(from decoder: any Decoder) throws {
            guard (try? decoder.container(keyedBy: AnyCodingKey.self)) != nil else {
                throw WUError(
                    .invalidJobSpec,
                    "profile must be a profile name (\"default\", \"strict\") or {\"file\": \"profile.json\"}, a profile file in the job directory"
                )
            }
            try decoder.rejectUnknownKeys(["file"])
            let c = try decoder.container(keyedBy: AnyCodingKey.self)
            guard c.contains(AnyCodingKey("file")) else { throw WUError(.invalidJobSpec, "profile.file is missing: {\"file\": \"profile.json\"}") }
            let path = try c.decode(String.self, forKey: AnyCodingKey("file"))
            guard Validate.isSafeRelativePath(path) else {
                throw WUError(.invalidJobSpec, "profile.file must be a relative path inside the job directory without '..', got '\(path)'")
            }
            self.path = path
        }
    }

    struct ResourcesSpec: Decodable {
        let value: Manifest.Resources

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(["cpus", "memory", "disk", "wall_time", "pids", "gpus", "arch"])
            let c = try decoder.container(keyedBy: AnyCodingKey.self)
            var r = Manifest.Resources()
            if let cpus = try c.decodeIfPresent(Double.self, forKey: AnyCodingKey("cpus")) {
                guard cpus >= 0.01, cpus <= 1024 else {
                    throw WUError(.invalidJobSpec, "resources.cpus must be between 0.01 and 1024 (a number of cores, e.g. 0.5 or 2)")
                }
                r.millicpus = Int((cpus * 1000).rounded())
            }
            func size(_ name: String, minimum: Int64) throws -> Int64? {
                guard let text = try c.decodeIfPresent(String.self, forKey: AnyCodingKey(name)) else { return nil }
                let bytes: Int64
                do { bytes = try ByteSize.parse(text) } catch let error as WUError {
                    throw WUError(.invalidJobSpec, "resources.\(name): \(error.message)")
                }
                guard bytes >= minimum else {
                    throw WUError(.invalidJobSpec, "resources.\(name) must be at least \(ByteSize.format(minimum)), got \(text)")
                }
                return bytes
            }
            if let memory = try size("memory", minimum: 4 << 20) { r.memoryBytes = memory }
            if let disk = try size("disk", minimum: 0) { r.diskBytes = disk }
            if let wall = try c.decodeIfPresent(String.self, forKey: AnyCodingKey("wall_time")) {
                let ms: Int64
                do { ms = try DurationText.parseMilliseconds(wall) } catch let error as WUError {
                    throw WUError(.invalidJobSpec, "resources.wall_time: \(error.message)")
                }
                guard ms >= 1, ms <= 7 * 86_400_000 else {
                    throw WUError(.invalidJobSpec, "resources.wall_time must be between 1ms and 7d, got \(wall)")
                }
                r.wallTimeMs = ms
            }
            if let pids = try c.decodeIfPresent(Int.self, forKey: AnyCodingKey("pids")) {
                guard pids >= 1, pids <= 65536 else { throw WUError(.invalidJobSpec, "resources.pids must be between 1 and 65536, got \(pids)") }
                r.pids = pids
            }
            if let gpus = try c.decodeIfPresent(Int.self, forKey: AnyCodingKey("gpus")) {
                guard gpus >= 0, gpus <= 64 else { throw WUError(.invalidJobSpec, "resources.gpus must be between 0 and 64, got \(gpus)") }
                r.gpus = gpus
            }
            if let arch = try c.decodeIfPresent(String.self, forKey: AnyCodingKey("arch")) {
                try Validate.identifier(arch, field: "resources.arch")
                r.arch = arch
            }
            value = r
        }
    }

    struct UnitsSpec: Decodable {
        let value: JobSpec.Units

        init(from decoder: any Decoder) throws {
            if var list = try? decoder.unkeyedContainer() {
                var units: [Manifest.Unit] = []
                while !list.isAtEnd {
                    units.append(try list.decode(UnitSpec.self).value)
                }
                guard !units.isEmpty else { throw WUError(.invalidJobSpec, "units is an empty list: give at least one unit") }
                var seen = Set<String>()
                for unit in units where !seen.insert(unit.id).inserted {
                    throw WUError(.invalidJobSpec, "units: the id '\(unit.id)' is used twice")
                }
                value = .list(units)
                return
            }
            try decoder.rejectUnknownKeys(["split", "args"])
            let c = try decoder.container(keyedBy: AnyCodingKey.self)
            guard c.contains(AnyCodingKey("split")) else {
                throw WUError(.invalidJobSpec, "units must be a list of units or {\"split\": \"inputs/*.txt\"}")
            }
            let pattern = try c.decode(String.self, forKey: AnyCodingKey("split"))
            guard pattern.hasPrefix("inputs/"), !pattern.split(separator: "/").contains("..") else {
                throw WUError(.invalidJobSpec, "units.split must be a pattern under inputs/, e.g. \"inputs/*.txt\", got '\(pattern)'")
            }
            let args = try c.decodeIfPresent([String].self, forKey: AnyCodingKey("args")) ?? []
            value = .split(pattern: pattern, args: args)
        }
    }

    struct UnitSpec: Decodable {
        let value: Manifest.Unit

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(["id", "args", "inputs"])
            let c = try decoder.container(keyedBy: AnyCodingKey.self)
            let id = try c.decode(String.self, forKey: AnyCodingKey("id"))
            try Validate.unitID(id, field: decoder.field("id"))
            let args = try c.decodeIfPresent([String].self, forKey: AnyCodingKey("args")) ?? []
            let inputs = try c.decodeIfPresent([String].self, forKey: AnyCodingKey("inputs")) ?? []
            for input in inputs {
                guard input.hasPrefix("inputs/"), Validate.isSafeRelativePath(input) else {
                    throw WUError(.invalidJobSpec, "\(decoder.field("inputs")): '\(input)' must be a path under inputs/ without '..'")
                }
            }
            value = Manifest.Unit(id: id, args: args, inputs: inputs)
        }
    }

    struct RedundancySpec: Decodable {
        let value: Manifest.Redundancy

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(["replicas", "quorum"])
            let c = try decoder.container(keyedBy: AnyCodingKey.self)
            let replicas = try c.decodeIfPresent(Int.self, forKey: AnyCodingKey("replicas")) ?? 1
            guard replicas >= 1, replicas <= 16 else {
                throw WUError(.invalidJobSpec, "redundancy.replicas must be between 1 and 16, got \(replicas)")
            }
            let quorum = try c.decodeIfPresent(Int.self, forKey: AnyCodingKey("quorum")) ?? replicas
            guard quorum >= 1, quorum <= replicas else {
                throw WUError(.invalidJobSpec, "redundancy.quorum must be between 1 and replicas (\(replicas)), got \(quorum)")
            }
            value = Manifest.Redundancy(replicas: replicas, quorum: quorum)
        }
    }

    struct AggregateSpec: Decodable {
        let value: Manifest.Aggregate

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(["command"])
            let c = try decoder.container(keyedBy: AnyCodingKey.self)
            let command = try c.decode([String].self, forKey: AnyCodingKey("command"))
            try Validate.command(command, field: "aggregate.command")
            value = Manifest.Aggregate(command: command)
        }
    }
}

extension JobSpec {
    /// Refuses a profile name that is none of `known` (the built-in profiles), naming those that exist:
    /// a typo such as `"stirct"` would otherwise wait forever for a runner allowing it.
    ///
    /// - Throws: `invalidJobSpec`.
    public func checkProfileName(known: [String], source: String = JobSpec.fileName) throws {
        guard profileFile == nil, !known.contains(profile) else { return }
        let names = known.map { "'\($0)'" }.joined(separator: ", ")
        let guess = known.min { Self.editDistance($0, profile) < Self.editDistance($1, profile) }
        let hint = guess.flatMap { Self.editDistance($0, profile) <= 2 ? " (did you mean '\($0)'?)" : nil } ?? ""
        throw WUError(
            .invalidJobSpec,
            "\(source): profile '\(profile)' is not a built-in profile\(hint); the built-in ones are \(names), or give your own as {\"file\": \"profile.json\"}"
        )
    }

    /// Levenshtein distance, for suggesting the name a typo meant.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
