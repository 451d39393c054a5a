import FoundationEssentials
import Glibc
import Synchronization
import WUCore
public import WUProtocol

/// `wu run`: verifies a bundle, runs its units and then its aggregate in the sandbox on this
/// machine, and writes the results layout of docs/formats.md (`OUT/<unit>/out/`, `OUT/<unit>/usage.json`,
/// `OUT/aggregate/out/`).
///
/// Units run one after another under a volunteer cap of their own. Each unit's `/out` lives in a
/// work directory the sandbox's id-mapped root can traverse; it is copied to the output directory
/// through the canonical output archive, so links never leave `/out` (item 9) and the digest
/// printed is the one replicas would agree on.
public enum LocalJob {
    public struct Options: Sendable {
        public var bundle: String
        public var trustedKeys: [String]
        public var trustDirectory: String?
        /// Only these units (the aggregate still runs when all of them succeed); nil for all.
        public var units: [String]?
        public var profile: String?
        public var profileDirectory: String?
        public var outputDirectory: String
        public var noLimits: Bool

        public init(
            bundle: String,
            trustedKeys: [String],
            trustDirectory: String? = nil,
            units: [String]? = nil,
            profile: String? = nil,
            profileDirectory: String? = nil,
            outputDirectory: String,
            noLimits: Bool = false
        ) {
            self.bundle = bundle
            self.trustedKeys = trustedKeys
            self.trustDirectory = trustDirectory
            self.units = units
            self.profile = profile
            self.profileDirectory = profileDirectory
            self.outputDirectory = outputDirectory
            self.noLimits = noLimits
        }
    }

    /// How one unit (or the aggregate, id `aggregate`) went.
    public struct UnitReport: Sendable {
        public var id: String
        public var usage: ResourceUsage?
        public var outputDigest: String?
        /// Set when the unit could not be started or its output not collected.
        public var error: String?

        public var succeeded: Bool { error == nil && usage?.succeeded == true }
        public var status: String {
            if error != nil { return "error" }
            guard let u = usage else { return "error" }
            if u.timedOut { return "timed out" }
            if u.oomKilled { return "oom-killed" }
            if u.diskExceeded { return "disk full" }
            if let s = u.signal { return "signal \(s)" }
            return u.exitCode == 0 ? "ok" : "exit \(u.exitCode ?? -1)"
        }
    }

    /// Runs the job; `report` is called after each unit.
    private static let runCounter = Atomic<Int>(0)

    /// - Throws: `WUError` when the bundle does not verify, `SandboxError` when the sandbox cannot start at all.
    public static func run(_ options: Options, report: @Sendable (UnitReport) -> Void = { _ in }) async throws -> [UnitReport] {
        let trust = try TrustStore.load(files: options.trustedKeys, directory: options.trustDirectory)
        let work = "/var/tmp/wu-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileSystem.makeDirectories(work, mode: 0o755)
        chmod(work, 0o755)
        defer { FileSystem.removeTree(work) }
        let bundleDir = work + "/bundle"
        let verified = try BundleReader.extract(.file(options.bundle), trusting: trust, to: bundleDir)
        let manifest = verified.manifest
        FileSystem.makeTraversable(bundleDir)

        var selected = manifest.units
        if let wanted = options.units {
            for id in wanted where !manifest.units.contains(where: { $0.id == id }) {
                throw WUError(.invalidArgument, "the bundle has no unit '\(id)' (units: \(manifest.units.map(\.id).joined(separator: ", ")))")
            }
            selected = manifest.units.filter { wanted.contains($0.id) }
        }
        let profile: SandboxProfile
        if options.profile == nil, let entry = manifest.profileFileEntry {
            // The bundle's own profile, as a runner would run it (the reader checked its digest).
            guard let bytes = FileSystem.readFile(bundleDir + "/" + entry.path, limit: Int(Manifest.maxProfileBytes)) else {
                throw SandboxError(.invalidProfile, "cannot read the bundle's \(entry.path)")
            }
            profile = try SandboxProfile.carried(by: manifest, bytes: bytes)
        } else {
            profile = try SandboxProfile.load(named: options.profile ?? manifest.profile, directory: options.profileDirectory)
        }
        // A cap of this run's own: `create` sweeps a cap of the same name, which would kill the
        // units of another local run in this process.
        let run = runCounter.wrappingAdd(1, ordering: .relaxed).oldValue
        let cap = options.noLimits ? VolunteerCap.unlimited() : try VolunteerCap.create(name: "run-\(getpid())-\(run)")
        defer { cap.remove() }
        let sandbox = try Sandbox(profile: profile, cap: cap)
        try FileSystem.makeDirectories(options.outputDirectory)

        var reports: [UnitReport] = []
        var archives: [String: (path: String, digest: String)] = [:]
        for unit in selected {
            let unitWork = work + "/units/" + unit.id
            try FileSystem.makeDirectories(unitWork + "/in", mode: 0o755)
            try FileSystem.makeDirectories(unitWork + "/out", mode: 0o755)
            for file in manifest.files(forUnit: unit.id) where file.path.hasPrefix("inputs/") {
                let target = unitWork + "/in/" + file.path.dropFirst("inputs/".count)
                try FileSystem.makeDirectories(String(target[..<target.lastIndex(of: "/")!]), mode: 0o755)
                if link(bundleDir + "/" + file.path, target) != 0 {
                    guard let bytes = FileSystem.readFile(bundleDir + "/" + file.path, limit: Int(file.size) + 1) else {
                        throw WUError(.io, "cannot read \(file.path) from the extracted bundle")
                    }
                    try FileSystem.writeFile(target, bytes, mode: mode_t(file.mode))
                }
            }
            let request = SandboxRequest.forUnit(
                of: manifest, unit: unit, jobID: "local", code: bundleDir + "/code", input: unitWork + "/in", output: unitWork + "/out",
                progress: unitWork + "/progress"
            )
            var r = await runOne(sandbox: sandbox, id: unit.id, request: request, work: unitWork, options: options)
            if let digest = r.outputDigest { archives[unit.id] = (unitWork + "/out.zst", digest) }
            if r.error == nil, r.usage == nil { r.error = "no usage" }
            reports.append(r)
            report(r)
        }

        if manifest.aggregate != nil, reports.allSatisfy(\.succeeded), options.units == nil {
            let aggWork = work + "/units/aggregate"
            try FileSystem.makeDirectories(aggWork + "/in", mode: 0o755)
            try FileSystem.makeDirectories(aggWork + "/out", mode: 0o755)
            for (id, archive) in archives.sorted(by: { $0.key < $1.key }) {
                try OutputArchive.extract(compressed: archive.path, expectedOutputDigest: archive.digest, to: aggWork + "/in/" + id)
            }
            FileSystem.makeTraversable(aggWork + "/in")
            let request = SandboxRequest.forUnit(
                of: manifest, unit: nil, jobID: "local", code: bundleDir + "/code", input: aggWork + "/in", output: aggWork + "/out",
                progress: aggWork + "/progress"
            )
            let r = await runOne(sandbox: sandbox, id: "aggregate", request: request, work: aggWork, options: options)
            reports.append(r)
            report(r)
        }
        return reports
    }

    static func runOne(sandbox: Sandbox, id: String, request: SandboxRequest, work: String, options: Options) async -> UnitReport {
        var report = UnitReport(id: id)
        do {
            let result = try await sandbox.run(request)
            report.usage = result.usage
            // Collect through the canonical archive: regular files and directories only.
            let summary = try OutputArchive.pack(directory: work + "/out", compressedPath: work + "/out.zst")
            report.outputDigest = summary.outputDigest
            let unitOut = options.outputDirectory + "/" + id
            try FileSystem.makeDirectories(unitOut)
            FileSystem.removeTree(unitOut + "/out")
            try OutputArchive.extract(compressed: work + "/out.zst", expectedOutputDigest: summary.outputDigest, to: unitOut + "/out")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            try FileSystem.writeFile(unitOut + "/usage.json", Array(try encoder.encode(result.usage)) + [10])
        } catch {
            report.error = "\(error)"
        }
        return report
    }
}

extension FileSystem {
    /// Gives every directory under `path` o+x (and files o+r) so the unit's id-mapped root can reach
    /// the bind sources; contents stay read-only to the unit through the read-only bind.
    static func makeTraversable(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            chmod(path, (st.st_mode & 0o7777) | 0o055)
            for name in list(path) { makeTraversable(path + "/" + name) }
        case S_IFREG:
            chmod(path, (st.st_mode & 0o7777) | 0o044)
        default:
            break
        }
    }
}
