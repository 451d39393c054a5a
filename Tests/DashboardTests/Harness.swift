import FoundationEssentials
import GRDB
import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

#if canImport(Glibc)
import Glibc
#endif

/// A fresh orchestrator on a real SQLite file in a temporary directory, with a hand-moved clock
/// (the pattern of `WUOrchestratorTests`, trimmed to what the dashboard's tests need).
final class Harness: Sendable {
    let directory: String
    let clock: ManualClock
    let orchestrator: Orchestrator
    let adminToken: String
    let requesterToken: String
    let otherToken: String
    let runnerToken: String
    let admin: Identity
    let requester: Identity
    let other: Identity
    let runner: Identity

    var scheduler: Scheduler { orchestrator.scheduler }

    /// - Parameter requesterName: the requester token's name (user-supplied text the page shows).
    init(requesterName: String = "alice") throws {
        directory = try Self.temporaryDirectory()
        clock = ManualClock()
        orchestrator = try Orchestrator(config: OrchestratorConfiguration(dataDirectory: directory), clock: clock)
        let tokens = TokenAdmin(store: orchestrator.store, clock: clock)
        adminToken = try tokens.create(role: .admin, name: "ops")
        requesterToken = try tokens.create(role: .requester, name: requesterName)
        otherToken = try tokens.create(role: .requester, name: "bob")
        runnerToken = try tokens.create(role: .runner, name: "pool")
        let now = clock.now()
        let (a, q, o, r) = (adminToken, requesterToken, otherToken, runnerToken)
        (admin, requester, other, runner) = try orchestrator.store.pool.read { db in
            (
                try TokenAdmin.identify(db, token: a, now: now)!, try TokenAdmin.identify(db, token: q, now: now)!,
                try TokenAdmin.identify(db, token: o, now: now)!, try TokenAdmin.identify(db, token: r, now: now)!
            )
        }
    }

    deinit { Self.remove(directory) }

    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/wu-dash-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw WUError(.io, "mkdtemp failed") }
        return String(cString: made)
    }

    static func remove(_ path: String) {
        guard path.hasPrefix("/tmp/wu-") else { return }
        var pid: pid_t = 0
        let arguments: [String] = ["/bin/rm", "-rf", path]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        if posix_spawn(&pid, "/bin/rm", nil, nil, &argv, environ) == 0 {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    static let full = Capacity(millicpus: 8000, memoryBytes: 16 << 30, diskBytes: 100 << 30, gpus: 0)

    /// Creates a job straight in the store, bypassing the bundle checks (so a name can hold anything).
    @discardableResult
    func makeJob(name: String = "test", units: Int, owner: Identity? = nil) async throws -> String {
        let manifest = Manifest(
            name: name,
            version: "1",
            command: ["/bin/true"],
            profile: "default",
            resources: Manifest.Resources(millicpus: 1000),
            units: (0..<units).map { Manifest.Unit(id: "u\($0)") },
            redundancy: .init(replicas: 1, quorum: 1),
            aggregate: nil,
            files: [Manifest.File(path: "code/run.sh", sha256: String(repeating: "c", count: 64), size: 1, mode: 0o755)]
        )
        let owner = owner ?? requester
        return try await scheduler.transaction { tx in
            try Scheduler.createJob(
                tx,
                owner: owner,
                manifest: manifest,
                priority: 0,
                signer: "test",
                manifestDigest: String(repeating: "a", count: 64),
                signatureDigest: String(repeating: "b", count: 64)
            )
        }.jobID
    }

    func register(_ name: String) async throws -> String {
        try await scheduler.register(runner, RegisterRequest(name: name, capacity: Self.full, arch: "x86_64", profiles: ["default"], version: "test"))
            .runnerID
    }

    func claim(_ runnerID: String, max: Int = 1) async throws -> [Assignment] {
        try await scheduler.claim(runner, ClaimRequest(runnerID: runnerID, free: Self.full, wait: 0, max: max)).assignments
    }

    func complete(_ assignment: Assignment, by runnerID: String, output: String) async throws {
        // A real output archive: `complete` checks the blob inflates to the digest it reports.
        let out = directory + "/out-" + Hex.random(bytes: 6)
        try FileIO.makeDirectories(out)
        try Data(output.utf8).write(to: URL(fileURLWithPath: out + "/out"))
        let archive = try OutputArchive.pack(directory: out, compressedPath: out + ".zst")
        let blob = try orchestrator.blobs.putSync(try FileIO.readFile(out + ".zst"))
        try await orchestrator.store.pool.write { db in try Scheduler.recordUpload(db, blob, tokenID: runner.tokenID) }
        let usage = ResourceUsage(wallMs: 1500, exitCode: 0, deniedSyscalls: [.init(name: "mount", count: 3), .init(name: "<b>bpf</b>", count: 1)])
        _ = try await scheduler.complete(
            runner,
            assignmentID: assignment.assignmentID,
            CompleteRequest(runnerID: runnerID, outputDigest: archive.outputDigest, blobDigest: blob, usage: usage),
            blobs: orchestrator.blobs
        )
    }

    func fail(_ assignment: Assignment, by runnerID: String, reason: String, stderr: String) async throws {
        _ = try await scheduler.fail(
            runner,
            assignmentID: assignment.assignmentID,
            FailRequest(runnerID: runnerID, reason: reason, usage: ResourceUsage(wallMs: 20, exitCode: 3, stderrTail: stderr))
        )
    }
}
