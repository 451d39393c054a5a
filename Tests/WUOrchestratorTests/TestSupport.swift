import FoundationEssentials
import GRDB
import Synchronization
import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

#if canImport(Glibc)
import Glibc
#endif

/// A fresh orchestrator on a real SQLite file in a temporary directory, with a hand-moved clock.
final class Harness: Sendable {
    let directory: String
    let clock: ManualClock
    let orchestrator: Orchestrator
    let adminToken: String
    let requesterToken: String
    let runnerToken: String
    let admin: Identity
    let requester: Identity
    let runner: Identity
    /// Each registered runner's identity (its volunteer's token), by runner id.
    let identities = Mutex<[String: Identity]>([:])
    /// Volunteers' runner identities by name; "pool" is `runner`.
    let volunteers = Mutex<[String: Identity]>([:])

    var scheduler: Scheduler { orchestrator.scheduler }

    init(_ configure: (inout OrchestratorConfiguration) -> Void = { _ in }) throws {
        directory = try Self.temporaryDirectory()
        clock = ManualClock()
        var config = OrchestratorConfiguration(dataDirectory: directory)
        configure(&config)
        orchestrator = try Orchestrator(config: config, clock: clock)
        let tokens = TokenAdmin(store: orchestrator.store, clock: clock)
        adminToken = try tokens.create(role: .admin, name: "ops")
        requesterToken = try tokens.create(role: .requester, name: "alice")
        runnerToken = try tokens.create(role: .runner, name: "pool")
        let now = clock.now()
        let (a, q, r) = (adminToken, requesterToken, runnerToken)
        (admin, requester, runner) = try orchestrator.store.pool.read { db in
            (
                try TokenAdmin.identify(db, token: a, now: now)!, try TokenAdmin.identify(db, token: q, now: now)!,
                try TokenAdmin.identify(db, token: r, now: now)!
            )
        }
        volunteers.withLock { $0["pool"] = runner }
    }

    /// The runner identity of the volunteer `name`: a runner token of its own, made on first use.
    func volunteer(_ name: String) throws -> Identity {
        if let known = volunteers.withLock({ $0[name] }) { return known }
        let token = try TokenAdmin(store: orchestrator.store, clock: clock).create(role: .runner, name: name)
        let now = clock.now()
        let identity = try orchestrator.store.pool.read { db in try TokenAdmin.identify(db, token: token, now: now)! }
        volunteers.withLock { $0[name] = identity }
        return identity
    }

    /// The identity a registered runner speaks with.
    func identity(of runnerID: String) -> Identity { identities.withLock { $0[runnerID] } ?? runner }

    deinit { Self.remove(directory) }

    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/wu-orch-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw WUError(.io, "mkdtemp failed") }
        return String(cString: made)
    }

    static func remove(_ path: String) {
        guard path.hasPrefix("/tmp/wu-") else { return }
        var pid: pid_t = 0
        let arguments: [String] = ["/bin/rm", "-rf", path]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        if posix_spawn(&pid, "/bin/rm", nil, nil, &argv, environ) == 0 {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    static let codeDigest = String(repeating: "c", count: 64)
    static let full = Capacity(millicpus: 8000, memoryBytes: 16 << 30, diskBytes: 100 << 30, gpus: 0)

    /// Creates a job straight in the store (no bundle): `units` units named u0, u1, ….
    @discardableResult
    func makeJob(
        units: Int,
        replicas: Int = 1,
        quorum: Int = 1,
        aggregate: Bool = false,
        priority: Int = 0,
        owner: Identity? = nil,
        resources: Manifest.Resources = Manifest.Resources(millicpus: 1000),
        profile: String = "default",
        onUnitFailure: Manifest.OnUnitFailure? = nil
    ) async throws -> String {
        let manifest = Manifest(
            name: "test",
            version: "1",
            command: ["/bin/true"],
            profile: profile,
            resources: resources,
            units: (0..<units).map { Manifest.Unit(id: "u\($0)") },
            redundancy: .init(replicas: replicas, quorum: quorum),
            aggregate: aggregate ? .init(command: ["/bin/true"]) : nil,
            files: [Manifest.File(path: "code/run.sh", sha256: Self.codeDigest, size: 1, mode: 0o755)],
            onUnitFailure: onUnitFailure
        )
        let owner = owner ?? requester
        let response = try await scheduler.transaction { tx in
            try Scheduler.createJob(
                tx,
                owner: owner,
                manifest: manifest,
                priority: priority,
                signer: "test",
                manifestDigest: String(repeating: "a", count: 64),
                signatureDigest: String(repeating: "b", count: 64)
            )
        }
        return response.jobID
    }

    /// Registers a runner as the volunteer `volunteer` (by default the shared "pool" token).
    func register(
        _ name: String,
        volunteer: String = "pool",
        arch: String = "x86_64",
        profiles: [String] = ["default"],
        capacity: Capacity = Harness.full
    ) async throws
        -> String
    {
        let identity = try self.volunteer(volunteer)
        let id = try await scheduler.register(identity, RegisterRequest(name: name, capacity: capacity, arch: arch, profiles: profiles, version: "test"))
            .runnerID
        identities.withLock { $0[id] = identity }
        return id
    }

    func claim(_ runnerID: String, max: Int = 1, free: Capacity = Harness.full) async throws -> [Assignment] {
        try await scheduler.claim(identity(of: runnerID), ClaimRequest(runnerID: runnerID, free: free, wait: 0, max: max)).assignments
    }

    /// Stores the output archive of a `/out` holding one file, `out`, with `text` in it, as uploaded by
    /// `uploader` (by default the "pool" volunteer).
    func output(_ text: String, by uploader: Identity? = nil) throws -> OutputArchive.Summary {
        let out = directory + "/out-" + Hex.random(bytes: 6)
        try FileIO.makeDirectories(out)
        let fd = try FileIO.open(out + "/out", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        defer { close(fd) }
        try Array(text.utf8).withUnsafeBytes { try FileIO.writeAll(fd, $0, path: out + "/out") }
        let summary = try OutputArchive.pack(directory: out, compressedPath: out + ".zst")
        try upload(try FileIO.readFile(out + ".zst"), by: uploader)
        return summary
    }

    /// Stores `bytes` as a blob uploaded by `uploader` (by default the "pool" volunteer), as `PUT /v1/blobs` does.
    @discardableResult
    func upload(_ bytes: [UInt8], by uploader: Identity? = nil) throws -> String {
        let digest = try orchestrator.blobs.putSync(bytes)
        let token = (uploader ?? runner).tokenID
        try orchestrator.store.pool.write { db in try Scheduler.recordUpload(db, digest, tokenID: token) }
        return digest
    }

    /// Uploads the output archive of `output` and completes the assignment with its digests.
    @discardableResult
    func complete(_ assignment: Assignment, by runnerID: String, output: String) async throws -> AssignmentAck {
        let archive = try self.output(output, by: identity(of: runnerID))
        return try await complete(assignment, by: runnerID, outputDigest: archive.outputDigest, blobDigest: archive.blobDigest!)
    }

    /// Completes the assignment with the digests given, whatever is stored.
    @discardableResult
    func complete(_ assignment: Assignment, by runnerID: String, outputDigest: String, blobDigest: String) async throws -> AssignmentAck {
        try await scheduler.complete(
            identity(of: runnerID),
            assignmentID: assignment.assignmentID,
            CompleteRequest(runnerID: runnerID, outputDigest: outputDigest, blobDigest: blobDigest, usage: ResourceUsage(wallMs: 5, exitCode: 0)),
            blobs: orchestrator.blobs
        )
    }

    func job(_ id: String) async throws -> JobView { try await scheduler.job(admin, id) }

    /// The job's waiting reasons as `count: reason` lines.
    func waiting(_ id: String) async throws -> [String] { try await job(id).waiting.map { "\($0.count): \($0.reason)" } }

    /// Fails an assignment as a runner whose unit ran out of memory reports it.
    func failOOM(_ assignment: Assignment, by runnerID: String) async throws {
        _ = try await scheduler.fail(
            runner,
            assignmentID: assignment.assignmentID,
            FailRequest(
                runnerID: runnerID, reason: "oom", message: "killed at the memory limit; stderr: MemoryError",
                usage: ResourceUsage(wallMs: 10, peakMemoryBytes: 64 << 20, signal: 9, oomKilled: true, stderrTail: "Traceback\nMemoryError\n")
            )
        )
    }

    func runnerView(_ id: String) async throws -> RunnerView {
        try #require(try await scheduler.runners(admin).runners.first { $0.runnerID == id })
    }

    func copies(_ jobID: String) async throws -> [CopyView] {
        try await scheduler.units(admin, jobID).units.flatMap(\.copies)
    }
}

/// Every orchestrator suite runs inside this one, one test at a time: several of them start
/// servers and load generators, and running them all at once would take the machine's two cores
/// from timing-sensitive suites of other targets running alongside.
@Suite(.serialized) enum OrchestratorTests {}
