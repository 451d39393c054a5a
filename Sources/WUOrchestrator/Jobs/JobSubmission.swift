import FoundationEssentials
import GRDB
import HTTPTypes
public import Hummingbird
import NIOPosix
import WUCore
import WUProfiles
public import WUProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `POST /v1/jobs`: a `.wu` body becomes a job, its units and their copies.
///
/// The body streams to a temporary file (size-limited); `BundleReader` verifies it against the
/// registered keys, storing every payload file as a blob as it goes; the manifest and signature
/// are stored as blobs exactly as signed; then one transaction creates everything.
///
/// A bundle carrying its own profile (`WU-PROFILE.json`) is admitted only when that profile grants
/// nothing beyond one of the built-in profiles runners allow; the job row keeps which ones, and
/// claims go only to runners allowing one of them. The orchestrator never links the sandbox: the
/// comparison is WUProfiles', the same as `wu profile diff` and the runner's own check at claim.
extension Scheduler {
    public func submit(
        _ identity: Identity,
        body: some AsyncSequence<ByteBuffer, any Error>,
        priority: Int,
        blobs: BlobStore
    ) async throws -> SubmitJobResponse {
        guard (-1000...1000).contains(priority) else { throw APIError.badRequest("priority must be between -1000 and 1000") }
        let trust = try await store.read { db in try KeyAdmin.trustStore(db) }
        guard !trust.keysByID.isEmpty else {
            throw APIError(.unprocessableContent, "untrusted-key", "no signing keys are registered: run `wu-orchestrator keys add`")
        }
        // Spool the body.
        let writer = try await NIOThreadPool.singleton.runIfActive { try BlobStore.Writer(directory: blobs.directory) }
        defer { writer.discard() }
        var size = 0
        for try await chunk in body {
            size += chunk.readableBytes
            guard size <= config.maxBundleBytes else {
                throw APIError(.contentTooLarge, "too-large", "the bundle is larger than the limit of \(config.maxBundleBytes) bytes")
            }
            let bytes = Array(chunk.readableBytesView)
            try await NIOThreadPool.singleton.runIfActive { try writer.write(bytes) }
        }
        guard size > 0 else { throw APIError.badRequest("the body is empty: send the .wu file") }
        let spooled = writer.tmpPath
        let (verified, manifestDigest, signatureDigest, profileBases) = try await NIOThreadPool.singleton.runIfActive {
            do {
                var sink = BlobSink(blobs: blobs)
                var limits = BundleLimits()
                limits.maxTotalBytes = Int64(self.config.maxBundleBytes) * 200
                let verified = try BundleReader.verify(.file(spooled), trusting: trust, limits: limits, into: &sink)
                let bases = try Self.admitCarriedProfile(verified.manifest, blobs: blobs)
                let manifestDigest = try blobs.putSync(verified.manifestBytes)
                let signatureDigest = try blobs.putSync(verified.signatureBytes)
                return (verified, manifestDigest, signatureDigest, bases)
            } catch let error as WUError {
                throw Self.apiError(error)
            }
        }
        let manifest = verified.manifest
        guard !manifest.units.isEmpty else { throw APIError(.unprocessableContent, "invalid-manifest", "the job has no units") }
        guard manifest.redundancy.replicas >= 1, (1...manifest.redundancy.replicas).contains(manifest.redundancy.quorum),
            manifest.redundancy.replicas <= 16
        else {
            throw APIError(.unprocessableContent, "invalid-manifest", "redundancy needs 1 ≤ quorum ≤ replicas ≤ 16")
        }
        let signer = verified.signer.keyID
        return try await transaction { tx in
            try Self.createJob(
                tx,
                owner: identity,
                manifest: manifest,
                priority: priority,
                signer: signer,
                manifestDigest: manifestDigest,
                signatureDigest: signatureDigest,
                profileBases: profileBases
            )
        }
    }

    /// The profiles a requester's own profile is compared against: the built-in ones, which every
    /// runner knows by name.
    static let admissionProfiles: [SandboxProfile] = SandboxProfile.builtins()

    /// For a bundle carrying its own profile: parses it (from the blob just stored, whose digest the
    /// reader checked) and returns the names of the built-in profiles it grants nothing beyond.
    ///
    /// - Returns: nil when the bundle names a profile instead.
    /// - Throws: ``APIError`` 422 `invalid-profile` when it is malformed, `profile-too-wide` naming what it
    ///   grants beyond each built-in profile when it fits within none.
    static func admitCarriedProfile(_ manifest: Manifest, blobs: BlobStore) throws -> String? {
        guard let entry = manifest.profileFileEntry else { return nil }
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readFile(blobs.path(entry.sha256), limit: Int(Manifest.maxProfileBytes))
        } catch {
            throw APIError(.unprocessableContent, "invalid-profile", "the bundle's \(entry.path) cannot be read: \(error)")
        }
        let profile: SandboxProfile
        do {
            profile = try SandboxProfile.carried(by: manifest, bytes: bytes)
        } catch {
            throw APIError(.unprocessableContent, "invalid-profile", error.message)
        }
        let (bases, refusal) = profile.bases(among: admissionProfiles)
        if let refusal {
            throw APIError(
                .unprocessableContent, "profile-too-wide",
                refusal.message(profileName: profile.name, allowedBy: "runners allow")
            )
        }
        return String(decoding: try JSONEncoder().encode(bases), as: UTF8.self)
    }

    static func apiError(_ error: WUError) -> APIError {
        switch error.code {
        case .limitExceeded: APIError(.contentTooLarge, error.code.description, error.message)
        case .untrustedKey, .badSignature: APIError(.unprocessableContent, error.code.description, error.message)
        case .io: APIError(.internalServerError, "io", error.message)
        default: APIError(.unprocessableContent, error.code.description, error.message)
        }
    }

    static func createJob(
        _ tx: Transaction,
        owner: Identity,
        manifest: Manifest,
        priority: Int,
        signer: String,
        manifestDigest: String,
        signatureDigest: String,
        profileBases: String? = nil
    ) throws -> SubmitJobResponse {
        let r = manifest.resources
        var job = JobRecord(
            id: nil,
            ownerTokenId: owner.tokenID,
            owner: owner.name,
            name: manifest.name,
            version: manifest.version,
            state: "pending",
            resumeState: nil,
            priority: priority,
            signerKeyId: signer,
            manifestDigest: manifestDigest,
            signatureDigest: signatureDigest,
            profile: manifest.profile,
            profileBases: profileBases,
            millicpus: r.millicpus,
            memoryBytes: r.memoryBytes,
            diskBytes: r.diskBytes,
            wallTimeMs: r.wallTimeMs,
            pids: r.pids,
            gpus: r.gpus,
            arch: r.arch,
            replicas: manifest.redundancy.replicas,
            quorum: manifest.redundancy.quorum,
            hasAggregate: manifest.aggregate != nil,
            unitsTotal: manifest.units.count,
            createdAt: tx.now,
            onUnitFailure: (manifest.onUnitFailure ?? .failJob).rawValue
        )
        try job.insert(tx.db)
        let jobID = job.id!
        let code = manifest.files.filter { $0.path.hasPrefix("code/") }
        let byPath = Dictionary(manifest.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let insertJobBlob = try tx.db.cachedStatement(sql: "INSERT OR IGNORE INTO job_blob (digest, job_id) VALUES (?, ?)")
        let profileBlob = manifest.profileFileEntry.map { [$0.sha256] } ?? []
        for digest in Set([manifestDigest, signatureDigest] + code.map(\.sha256) + profileBlob) {
            try insertJobBlob.execute(arguments: [digest, jobID])
        }
        let insertUnit = try tx.db.cachedStatement(
            sql: "INSERT INTO unit (job_id, name, is_aggregate, state, copies_total, files) VALUES (?, ?, 0, 'pending', ?, ?)"
        )
        let insertCopy = try tx.db.cachedStatement(sql: "INSERT INTO copy (job_id, unit_id, state, created_at) VALUES (?, ?, 'queued', ?)")
        let insertUnitBlob = try tx.db.cachedStatement(sql: "INSERT OR IGNORE INTO unit_blob (digest, unit_id) VALUES (?, ?)")
        let encoder = JSONEncoder()
        var seen = Set<String>()
        for unit in manifest.units {
            guard seen.insert(unit.id).inserted else {
                throw APIError(.unprocessableContent, "invalid-manifest", "unit id '\(unit.id)' appears twice")
            }
            var files = code
            for input in unit.inputs {
                guard let file = byPath[input] else {
                    throw APIError(.unprocessableContent, "invalid-manifest", "unit \(unit.id) reads \(input), which the bundle does not hold")
                }
                if !input.hasPrefix("code/") { files.append(file) }
            }
            let refs = files.map { Assignment.FileRef(path: $0.path, sha256: $0.sha256, size: $0.size, mode: $0.mode) }
            let json = String(decoding: try encoder.encode(refs), as: UTF8.self)
            try insertUnit.execute(arguments: [jobID, unit.id, manifest.redundancy.replicas, json])
            let unitID = tx.db.lastInsertedRowID
            for file in files where !file.path.hasPrefix("code/") { try insertUnitBlob.execute(arguments: [file.sha256, unitID]) }
            for _ in 0..<manifest.redundancy.replicas { try insertCopy.execute(arguments: [jobID, unitID, tx.now]) }
        }
        tx.workAvailable = true
        tx.emit("job", job: job, ["state": "pending", "name": manifest.name])
        return SubmitJobResponse(
            jobID: String(jobID),
            name: manifest.name,
            state: "pending",
            units: manifest.units.count,
            copies: manifest.units.count * manifest.redundancy.replicas,
            priority: priority
        )
    }
}
