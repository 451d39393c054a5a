import WUClient
import Logging
import Synchronization
import WUCore
import WUProfiles
import WUProtocol
import WUSandbox
#if canImport(Glibc)
import Glibc
#endif

/// Carries one assignment from claim to outcome: fetch and verify against the runner's own trusted
/// keys, lay out the workspace, run in the sandbox, pack `/out`, upload it.
///
/// It trusts nothing the claim says that the signed manifest can say instead: the command, the files and
/// their digests, the resources and the profile all come from the manifest.
final class AssignmentExecutor: Sendable {
    let configuration: RunnerConfiguration
    let client: OrchestratorClient
    let cache: BlobCache
    let cap: VolunteerCap
    let sandboxes: SandboxPool
    let logger: Logger
    /// Manifests already verified, by manifest + signature digest.
    let verified = Mutex<[String: (Manifest, PublicSigningKey)]>([:])
    /// Bundle-carried profiles already admitted, by the profile file's digest: a job's units share one,
    /// and a hostile profile can make the comparison cost seconds.
    let admittedProfiles = Mutex<[String: SandboxProfile]>([:])

    init(configuration: RunnerConfiguration, client: OrchestratorClient, cache: BlobCache, cap: VolunteerCap, sandboxes: SandboxPool, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.cache = cache
        self.cap = cap
        self.sandboxes = sandboxes
        self.logger = logger
    }

    func execute(_ assignment: Assignment, workspace: UnitWorkspace) async -> AssignmentOutcome {
        let clock = ContinuousClock()
        let began = clock.now
        var logger = logger
        logger[metadataKey: "assignment.id"] = "\(assignment.assignmentID)"
        logger[metadataKey: "unit.id"] = "\(assignment.jobID)/\(assignment.unitID)"
        let manifest: Manifest
        let signer: PublicSigningKey
        do {
            (manifest, signer) = try await verifiedManifest(assignment)
        } catch let error as WUError where [.untrustedKey, .badSignature, .invalidManifest].contains(error.code) {
            logger.info("refused: \(error.message)")
            return .failed(reason: "untrusted", message: error.message, usage: nil)
        } catch {
            return .failed(reason: "fetch", message: "cannot fetch the manifest: \(error)", usage: nil)
        }
        logger.info("verified", metadata: ["signer": "\(signer.keyID)", "job.name": "\(manifest.name)"])

        // The profile the unit runs under: one this runner allows by name, or the bundle's own profile
        // when it grants nothing beyond one of them. Decided here, whatever the orchestrator decided.
        let carried: (profile: SandboxProfile, digest: String)?
        if let entry = manifest.profileFileEntry {
            switch await admitCarriedProfile(entry, manifest: manifest) {
            case .success(let profile): carried = (profile, entry.sha256)
            case .failure(let refusal):
                logger.info("refused the bundle's profile: \(refusal.message)")
                return .failed(reason: refusal.reason, message: refusal.message, usage: nil)
            }
        } else {
            guard configuration.profiles.contains(manifest.profile) else {
                return .failed(reason: "profile", message: "the job asks for profile '\(manifest.profile)'; this runner allows \(configuration.profiles.joined(separator: ", "))", usage: nil)
            }
            carried = nil
        }
        // The claim's resources are what this runner accounted for the unit; the signed manifest's must fit them.
        let signed = manifest.resources
        let needs = Capacity(millicpus: signed.millicpus, memoryBytes: signed.memoryBytes, diskBytes: signed.diskBytes, gpus: signed.gpus)
        guard assignment.resources.capacity.fits(needs) else {
            return .failed(reason: "invalid", message: "the claim's resources are smaller than the signed manifest's", usage: nil)
        }
        if let problem = Self.aggregateInputsProblem(assignment, manifest: manifest) {
            logger.info("protocol error: \(problem)")
            return .failed(reason: "invalid", message: problem, usage: nil)
        }
        let unit: Manifest.Unit?
        if assignment.isAggregate {
            guard manifest.aggregate != nil else { return .failed(reason: "invalid", message: "the manifest has no aggregate step", usage: nil) }
            unit = nil
        } else {
            guard let found = manifest.units.first(where: { $0.id == assignment.unitID }) else {
                return .failed(reason: "invalid", message: "the signed manifest has no unit '\(assignment.unitID)'", usage: nil)
            }
            unit = found
        }
        let files = unit.map { manifest.files(forUnit: $0.id) } ?? manifest.files.filter { $0.path.hasPrefix("code/") }

        // Fetch every payload blob (checked against the manifest's digest on download) and lay out the unit.
        let digests = files.map(\.sha256)
        cache.pin(digests)
        defer { cache.unpin(digests) }
        do {
            for file in files {
                let blob = try await cache.fetch(file.sha256, maxBytes: file.size)
                try workspace.place(blob: blob, as: file)
            }
            for input in assignment.aggregateInputs {
                let blob = try await cache.fetch(input.digest, maxBytes: manifest.resources.diskBytes + (64 << 20))
                try OutputArchive.extract(
                    compressed: blob, expectedOutputDigest: input.outputDigest, to: workspace.input + "/" + input.unitID,
                    limits: .init(maxFileBytes: max(manifest.resources.diskBytes, 1 << 30))
                )
            }
        } catch {
            logger.info("fetch failed: \(error)")
            return .failed(reason: "fetch", message: "\(error)", usage: nil)
        }

        let sandbox: Sandbox
        do {
            if let carried {
                sandbox = try sandboxes.sandbox(carrying: carried.profile, digest: carried.digest, cap: cap)
            } else {
                sandbox = try sandboxes.sandbox(for: manifest.profile, cap: cap)
            }
        } catch {
            return .failed(reason: "sandbox", message: "\(error)", usage: nil)
        }
        let request = UnitWorkspace.request(manifest: manifest, unit: unit, jobID: assignment.jobID, workspace: workspace)
        let prepared = clock.now
        logger.info("started", metadata: ["command": "\(request.command.joined(separator: " "))", "prepare_ms": "\(Self.ms(prepared - began))"])
        var usage: ResourceUsage
        do {
            usage = try await sandbox.run(request).usage
        } catch {
            logger.info("sandbox refused the unit: \(error)")
            return .failed(reason: "sandbox", message: "\(error)", usage: nil)
        }
        let ran = clock.now
        if Task.isCancelled { return .failed(reason: "aborted", message: "stopped by the runner", usage: usage) }
        logger.info(
            "finished",
            metadata: [
                "exit": "\(usage.exitCode.map(String.init) ?? "signal \(usage.signal ?? 0)")", "wall_ms": "\(usage.wallMs)",
                "cpu_ms": "\(usage.cpuUserMs + usage.cpuSystemMs)", "peak_memory": "\(ByteSize.format(usage.peakMemoryBytes))",
            ]
        )
        guard usage.succeeded else {
            let (reason, message) = AssignmentOutcome.reason(for: usage)
            return .failed(reason: reason, message: message, usage: usage)
        }

        do {
            // Beside the workspace, not in it: the workspace goes as soon as the unit is packed, the upload after.
            let compressed = workspace.root + ".out.zst"
            let summary = try OutputArchive.pack(
                directory: workspace.output, compressedPath: compressed, limits: .init(maxFileBytes: manifest.resources.diskBytes)
            )
            usage.outputBytes = summary.fileBytes
            logger.info(
                "packed",
                metadata: [
                    "output.digest": "\(summary.outputDigest)", "bytes": "\(summary.fileBytes)", "sandbox_ms": "\(Self.ms(ran - prepared))",
                    "pack_ms": "\(Self.ms(clock.now - ran))",
                ]
            )
            return .completed(outputDigest: summary.outputDigest, blobDigest: summary.blobDigest!, archive: compressed, usage: usage)
        } catch let error as WUError where error.code == .limitExceeded {
            // Outgrowing the disk is the unit's limit; a tree no runner takes is the unit's output itself.
            // The message names the bound passed.
            guard let bound = error.cause as? OutputArchive.Bound, bound != .disk else {
                usage.diskExceeded = true
                return .failed(reason: "disk-exceeded", message: error.message, usage: usage)
            }
            return .failed(reason: AssignmentOutcome.outputInvalid, message: error.message, usage: usage)
        } catch {
            return .failed(reason: "output", message: "cannot pack /out: \(error)", usage: usage)
        }
    }
}

extension AssignmentExecutor {
    /// Why a bundle's own profile was not run: the fail reason (`profile`, or `fetch` when its blob could
    /// not be had) and a message naming what it adds.
    struct ProfileRefusal: Error {
        var reason: String
        var message: String
    }

    /// Fetches the profile a bundle carries (digest-checked against the signed manifest like any blob),
    /// parses it and admits it only when it grants nothing beyond one of this runner's profiles.
    func admitCarriedProfile(_ entry: Manifest.File, manifest: Manifest) async -> Result<SandboxProfile, ProfileRefusal> {
        if let known = admittedProfiles.withLock({ $0[entry.sha256] }), known.name == manifest.profile { return .success(known) }
        let bytes: [UInt8]
        do {
            guard entry.size <= Manifest.maxProfileBytes else {
                let message = "the bundle's profile is \(entry.size) bytes, more than \(Manifest.maxProfileBytes)"
                return .failure(ProfileRefusal(reason: "profile", message: message))
            }
            cache.pin([entry.sha256])
            defer { cache.unpin([entry.sha256]) }
            let path = try await cache.fetch(entry.sha256, maxBytes: entry.size)
            bytes = try FileIO.readFile(path, limit: Int(Manifest.maxProfileBytes))
        } catch {
            return .failure(ProfileRefusal(reason: "fetch", message: "cannot fetch the bundle's profile: \(error)"))
        }
        let profile: SandboxProfile
        var allowed: [SandboxProfile] = []
        do throws(SandboxError) {
            profile = try SandboxProfile.carried(by: manifest, bytes: bytes)
            for name in configuration.profiles { allowed.append(try SandboxProfile.load(named: name)) }
        } catch {
            return .failure(ProfileRefusal(reason: "profile", message: error.message))
        }
        let admission = profile.admission(among: allowed)
        guard case .accepted = admission else {
            return .failure(ProfileRefusal(reason: "profile", message: admission.message(profileName: profile.name)))
        }
        admittedProfiles.withLock { table in
            if table.count >= 32 { table.removeAll() }
            table[entry.sha256] = profile
        }
        return .success(profile)
    }

    /// Why an assignment's aggregate inputs cannot be taken, or nil: an aggregate gets exactly one
    /// canonical output per unit of the signed manifest (each extracted to `/in/<unit_id>/`), any other
    /// unit none (WUProtocol refuses those while decoding; checked again here, where it matters).
    static func aggregateInputsProblem(_ assignment: Assignment, manifest: Manifest) -> String? {
        let named = assignment.aggregateInputs.map(\.unitID)
        guard assignment.isAggregate else { return named.isEmpty ? nil : "a unit that is not the aggregate was sent aggregate inputs" }
        let units = Set(manifest.units.map(\.id))
        if let stranger = named.first(where: { !units.contains($0) }) {
            return "aggregate input '\(stranger)' is not a unit of the signed manifest"
        }
        guard named.count == units.count, Set(named).count == named.count else {
            return "the aggregate was sent \(named.count) inputs for the signed manifest's \(units.count) units, or one twice"
        }
        return nil
    }

    /// Whole milliseconds of a duration, for log metadata.
    static func ms(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// The manifest of an assignment, checked against this runner's trusted keys. A job's units share one
    /// manifest, so a verified one is kept (by manifest and signature digest) instead of decoding it per unit.
    func verifiedManifest(_ assignment: Assignment) async throws -> (Manifest, PublicSigningKey) {
        let key = assignment.manifestDigest + assignment.signatureDigest
        if let known = verified.withLock({ $0[key] }) { return known }
        let manifestPath = try await cache.fetch(assignment.manifestDigest, maxBytes: BundleLimits.default.maxManifestBytes)
        let signaturePath = try await cache.fetch(assignment.signatureDigest, maxBytes: 64 << 10)
        let result = try BundleSignature.verify(
            manifestBytes: try FileIO.readFile(manifestPath), signatureBytes: try FileIO.readFile(signaturePath), trusting: configuration.trust
        )
        verified.withLock { table in
            if table.count >= 32 { table.removeAll() }
            table[key] = result
        }
        return result
    }
}

/// One compiled sandbox per profile, shared by every unit that uses it.
final class SandboxPool: Sendable {
    private let sandboxes = Mutex<[String: Sandbox]>([:])
    /// How many sandboxes of each built-in profile are kept prepared (root only; see Sandbox).
    let prepareAhead: Int

    init(prepareAhead: Int = 0) {
        self.prepareAhead = prepareAhead
    }

    func sandbox(for profile: String, cap: VolunteerCap) throws -> Sandbox {
        try sandboxes.withLock { table in
            if let ready = table[profile] { return ready }
            let sandbox = try Sandbox(profile: SandboxProfile.load(named: profile), cap: cap, prepareAhead: prepareAhead)
            table[profile] = sandbox
            return sandbox
        }
    }

    /// Kills the prepared sandboxes no unit took (before the cap is removed).
    func discardPrepared() {
        for sandbox in sandboxes.withLock({ Array($0.values) }) { sandbox.discardPrepared() }
    }

    /// The sandbox for a bundle's own profile, kept by the profile file's digest.
    func sandbox(carrying profile: SandboxProfile, digest: String, cap: VolunteerCap) throws -> Sandbox {
        let key = "sha256:" + digest
        if let ready = sandboxes.withLock({ $0[key] }) { return ready }
        let sandbox = try Sandbox(profile: profile, cap: cap)
        sandboxes.withLock { table in
            if table.count >= 64 { table = table.filter { !$0.key.hasPrefix("sha256:") } }
            table[key] = sandbox
        }
        return sandbox
    }
}
