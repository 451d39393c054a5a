import Testing
import WUCore
import WUProtocol
import WUClient
@testable import WURunner
import WUSandbox
#if canImport(Glibc)
import Glibc
#endif

/// The runner's parts that need no orchestrator: workspace layout, progress reading, cache eviction,
/// backoff bounds, failure reasons and the progress line.
@Suite struct RunnerPartsTests {
    func temporaryDirectory() -> String {
        var template = Array("/tmp/wu-runner-test-XXXXXX".utf8CString)
        _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test func workspaceMapsPayloadPathsAndPlacesFilesWithTheirModes() throws {
        let root = temporaryDirectory()
        defer { FileIO.removeTree(root) }
        let workspace = try UnitWorkspace(root: root + "/unit")
        #expect(workspace.hostPath(forPayload: "code/bin/run.sh") == root + "/unit/code/bin/run.sh")
        #expect(workspace.hostPath(forPayload: "inputs/a/b.txt") == root + "/unit/in/a/b.txt")

        let blob = root + "/blob"
        let fd = try FileIO.open(blob, O_WRONLY | O_CREAT, mode: 0o644)
        try Array("#!/bin/sh\n".utf8).withUnsafeBytes { try FileIO.writeAll(fd, $0, path: blob) }
        close(fd)
        let digest = Digest.sha256(Array("#!/bin/sh\n".utf8))
        try workspace.place(blob: blob, as: Manifest.File(path: "code/bin/run.sh", sha256: digest, size: 10, mode: 0o755))
        try workspace.place(blob: blob, as: Manifest.File(path: "inputs/copy.txt", sha256: digest, size: 10, mode: 0o644))
        var st = stat()
        #expect(stat(root + "/unit/code/bin/run.sh", &st) == 0 && st.st_mode & 0o777 == 0o755)
        #expect(stat(blob, &st) == 0 && st.st_mode & 0o777 == 0o644, "the cached blob's mode changed")
        #expect(stat(root + "/unit/in/copy.txt", &st) == 0 && st.st_nlink == 2, "a same-mode file should be a hard link")
        #expect(try FileIO.readFile(root + "/unit/code/bin/run.sh") == Array("#!/bin/sh\n".utf8))
    }

    @Test func progressIsReadWithoutFollowingLinksAndClamped() throws {
        let root = temporaryDirectory()
        defer { FileIO.removeTree(root) }
        let workspace = try UnitWorkspace(root: root + "/unit")
        #expect(workspace.readProgress() == nil)
        func write(_ text: String, to path: String) throws {
            let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            defer { close(fd) }
            try Array(text.utf8).withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
        }
        try write("0.25\n", to: workspace.progress)
        #expect(workspace.readProgress() == 0.25)
        try write("7", to: workspace.progress)
        #expect(workspace.readProgress() == 1)
        try write("nan", to: workspace.progress)
        #expect(workspace.readProgress() == nil)
        // A unit that swaps the file for a link to a host file gets nothing read through it.
        unlink(workspace.progress)
        try write("0.5", to: root + "/host-secret")
        #expect(symlink(root + "/host-secret", workspace.progress) == 0)
        #expect(workspace.readProgress() == nil)
    }

    @Test func sandboxRequestCarriesTheUnitViewOfDesignMD() throws {
        let root = temporaryDirectory()
        defer { FileIO.removeTree(root) }
        let workspace = try UnitWorkspace(root: root + "/unit")
        let manifest = Manifest(
            name: "j", version: "1", command: ["/usr/bin/python3", "run.py"], env: ["A": "1"],
            resources: .init(millicpus: 500, memoryBytes: 128 << 20, diskBytes: 1 << 20, wallTimeMs: 5000, pids: 8),
            units: [Manifest.Unit(id: "u1", args: ["/in/x"])], aggregate: .init(command: ["/bin/sh", "sum.sh"]), files: []
        )
        let unit = UnitWorkspace.request(manifest: manifest, unit: manifest.units[0], jobID: "42", workspace: workspace)
        #expect(unit.command == ["/usr/bin/python3", "run.py", "/in/x"])
        #expect(unit.environment == ["A": "1", "WU_JOB_ID": "42", "WU_UNIT_ID": "u1", "WU_PROGRESS": "/run/wu/progress"])
        #expect(unit.workingDirectory == "/code")
        #expect(unit.limits.memoryBytes == 128 << 20 && unit.limits.millicpus == 500 && unit.limits.pids == 8)
        #expect(unit.limits.diskBytes == 1 << 20 && unit.limits.wallTimeMs == 5000)
        #expect(unit.outputDirectory == root + "/unit/out")
        let aggregate = UnitWorkspace.request(manifest: manifest, unit: nil, jobID: "42", workspace: workspace)
        #expect(aggregate.command == ["/bin/sh", "sum.sh"])
        #expect(aggregate.environment["WU_UNIT_ID"] == "aggregate")
    }

    @Test func backoffStaysWithinItsBoundsAndGrows() {
        for attempt in 0..<20 {
            let delay = Backoff.delay(attempt: attempt)
            let ceiling = min(30_000, 250 << min(attempt, 16))
            #expect(delay >= .milliseconds(ceiling / 2) && delay <= .milliseconds(ceiling), "attempt \(attempt): \(delay)")
        }
    }

    @Test func failureReasonsNameWhatEndedTheUnit() {
        #expect(AssignmentOutcome.reason(for: ResourceUsage(wallMs: 1, oomKilled: true)).0 == "oom")
        #expect(AssignmentOutcome.reason(for: ResourceUsage(wallMs: 1, timedOut: true)).0 == "timeout")
        #expect(AssignmentOutcome.reason(for: ResourceUsage(wallMs: 1, diskExceeded: true)).0 == "disk-exceeded")
        #expect(AssignmentOutcome.reason(for: ResourceUsage(wallMs: 1, signal: 9)).0 == "signal")
        let exit = AssignmentOutcome.reason(for: ResourceUsage(wallMs: 1, exitCode: 3, stderrTail: "a\nb\nTraceback: boom\n"))
        #expect(exit.0 == "exit-code" && exit.1.contains("status 3") && exit.1.contains("Traceback: boom"))
    }

    @Test func blobCacheEvictsLeastRecentlyUsedButNeverPinned() throws {
        let root = temporaryDirectory()
        defer { FileIO.removeTree(root) }
        let cache = try BlobCache(directory: root + "/cache", budgetBytes: 2500, client: OrchestratorClient(baseURL: "http://127.0.0.1:9", token: "x"))
        var digests: [String] = []
        for (index, byte) in [UInt8(1), 2, 3].enumerated() {
            let bytes = [UInt8](repeating: byte, count: 1000)
            let digest = Digest.sha256(bytes)
            digests.append(digest)
            let fd = try FileIO.open(cache.path(digest), O_WRONLY | O_CREAT, mode: 0o644)
            try bytes.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: digest) }
            close(fd)
            var times = [timespec(tv_sec: 1_000_000 + index * 100, tv_nsec: 0), timespec(tv_sec: 1_000_000 + index * 100, tv_nsec: 0)]
            utimensat(AT_FDCWD, cache.path(digest), &times, 0)
        }
        cache.pin([digests[0]])
        cache.evict()
        // 3000 bytes over a 2500 budget: the oldest unpinned (the second) goes; the pinned oldest stays.
        #expect(access(cache.path(digests[0]), F_OK) == 0)
        #expect(access(cache.path(digests[1]), F_OK) != 0)
        #expect(access(cache.path(digests[2]), F_OK) == 0)
    }

    @Test func progressLineShowsCountsStateAndBar() {
        let view = JobView(
            jobID: "7", name: "wc", version: "1", state: "running", priority: 0, owner: "a", signerKeyID: "k", replicas: 2, quorum: 2,
            hasAggregate: true, unitsTotal: 8, units: ["valid": 4, "failed": 1], copies: [:], progress: 0.5, createdAt: 0, startedAt: nil,
            finishedAt: nil, failureReasons: [], resultDigest: nil
        )
        let line = JobWatcher.describe(view, elapsed: .seconds(10))
        #expect(line.hasPrefix("[############------------] 4/8 valid · 1 failed · running"), "\(line)")
        #expect(line.hasSuffix("ETA 10s"), "\(line)")
        // Nearly done: less than a second to go is no estimate worth printing ("ETA 0ms").
        let almost = JobView(
            jobID: "7", name: "wc", version: "1", state: "running", priority: 0, owner: "a", signerKeyID: "k", replicas: 2, quorum: 2,
            hasAggregate: true, unitsTotal: 8, units: ["valid": 7], copies: [:], progress: 0.99, createdAt: 0, startedAt: nil,
            finishedAt: nil, failureReasons: [], resultDigest: nil
        )
        let last = JobWatcher.describe(almost, elapsed: .seconds(10))
        #expect(!last.contains("ETA"), "\(last)")
    }

    @Test func progressLineSaysWhyUnitsWaitUnlessTheyAreOnlyInLine() {
        var view = JobView(
            jobID: "7", name: "wc", version: "1", state: "pending", priority: 0, owner: "a", signerKeyID: "k", replicas: 1, quorum: 1,
            hasAggregate: false, unitsTotal: 3, units: ["pending": 3], copies: [:], progress: 0, createdAt: 0, startedAt: nil,
            finishedAt: nil, failureReasons: [], resultDigest: nil,
            waiting: [WaitingReason(count: 3, code: "profile", reason: "no runner allows profile 'stirct'")]
        )
        #expect(JobWatcher.describe(view, elapsed: .seconds(1)).hasSuffix("pending · 3 units wait: no runner allows profile 'stirct'"))
        view.waiting = [WaitingReason(count: 3, code: "queued", reason: "queued: 1 of the 1 active runner able to run it has room")]
        #expect(JobWatcher.describe(view, elapsed: .seconds(1)).hasSuffix("0/3 valid · pending"))
    }

    @Test func failureLinesNameEachUnitAndPointAtTheRest() {
        let view = JobView(
            jobID: "7", name: "wc", version: "1", state: "failed", priority: 0, owner: "a", signerKeyID: "k", replicas: 1, quorum: 1,
            hasAggregate: false, unitsTotal: 30, units: ["failed": 25, "cancelled": 5], copies: [:], progress: 0, createdAt: 0, startedAt: nil,
            finishedAt: 1, failureReasons: [], resultDigest: nil
        )
        let unit = UnitView(
            unitID: "oom", isAggregate: false, state: "failed", outputDigest: nil, blobDigest: nil, failureReason: "a copy failed", copies: [],
            failure: UnitFailure(reason: "oom", message: "killed at its memory limit 64M; raise resources.memory", signal: 9, attempts: 5)
        )
        let lines = JobReport.failureLines(view, failed: Array(repeating: unit, count: 20))
        #expect(lines.first == "unit oom: killed at its memory limit 64M; raise resources.memory")
        #expect(lines.count == 21)
        #expect(lines.last == "… 5 more failed units: wu status 7 --units")
    }
}
