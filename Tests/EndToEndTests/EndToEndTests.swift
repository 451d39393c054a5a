import FoundationEssentials
import Testing
import WUCore
import WUProtocol
import WUClient
import WURunner
import WUTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The real binaries on loopback: wu-orchestrator, wu-runner and the wu client library, carrying jobs
/// from a packed bundle to checked results.
@Suite(.serialized, .enabled(if: isRoot, "runners need root for namespaces and cgroups"))
struct EndToEndTests {
    /// wordcount through three runners (2 replicas, quorum 2, aggregate) against counts computed here.
    @Test func wordcountThroughThreeRunners() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        for i in 1...3 { try cluster.startRunner(name: "r\(i)") }
        let bundle = cluster.directory + "/wc.wu"
        _ = try BundlePacker.pack(jobDirectory: repositoryRoot + "/bundles/wordcount", key: cluster.key, output: bundle)
        let job = try await cluster.submit(bundle)
        let view = try await cluster.waitForJob(job)
        #expect(view.state == "completed", "\(view.failureReasons)\n\(cluster.logs())")

        let results = try await cluster.results(job)
        let counted = try parseCounts(String(decoding: FileIO.readFile(results + "/aggregate/out/counts.tsv"), as: UTF8.self))
        #expect(counted == expectedWordCounts(), "aggregate differs from the counts computed by the test")
        #expect(counted["the"] == 15)
        // Every unit ran on two distinct runners and both copies are valid.
        let units = try await cluster.requester.units(ofJob: job).units
        for unit in units where !unit.isAggregate {
            let valid = unit.copies.filter { $0.state == "valid" }
            #expect(valid.count == 2, "\(unit.unitID): \(unit.copies.map(\.state))")
            #expect(Set(valid.compactMap(\.runnerID)).count == 2, "\(unit.unitID) ran twice on one runner")
        }
    }

    /// sha256 over four chunks: each unit's digest and the aggregate's list match sha256 computed here.
    @Test func sha256ThroughThreeRunners() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        for i in 1...3 { try cluster.startRunner(name: "r\(i)") }
        let bundle = cluster.directory + "/sha.wu"
        _ = try BundlePacker.pack(jobDirectory: repositoryRoot + "/bundles/sha256", key: cluster.key, output: bundle)
        let job = try await cluster.submit(bundle)
        let view = try await cluster.waitForJob(job)
        #expect(view.state == "completed", "\(view.failureReasons)")
        let results = try await cluster.results(job)
        for i in 0..<4 {
            let chunk = try FileIO.readFile(repositoryRoot + "/bundles/sha256/inputs/chunk-\(i)")
            let reported = String(decoding: try FileIO.readFile(results + "/chunk-\(i)/out/sha256"), as: UTF8.self)
            #expect(reported == Digest.sha256(chunk) + "\n", "chunk-\(i)")
        }
        let list = String(decoding: try FileIO.readFile(results + "/aggregate/out/chunks.sha256"), as: UTF8.self)
        #expect(list.split(separator: "\n").count == 4)
    }

    /// A runner killed with SIGKILL mid-unit: its copy is requeued when the lease expires and another runner finishes the job.
    @Test func runnerKilledMidUnitIsRequeued() async throws {
        let cluster = try await Cluster(orchestratorFlags: ["--lease-seconds", "3", "--heartbeat-ttl-seconds", "2", "--requeue-sweep-seconds", "1"])
        defer { cluster.shutdown() }
        let bundle = try cluster.bundle(
            "slow", spec: #"{"name": "slow", "command": ["/bin/sh", "-c", "echo started; sleep 3; echo done > /out/done"], "units": [{"id": "u"}]}"#,
            files: ["code/readme": "slow\n"]
        )
        let first = try cluster.startRunner(name: "victim")
        let job = try await cluster.submit(bundle)
        try await cluster.eventually(20, "the victim leased the copy") {
            try await cluster.requester.units(ofJob: job).units.first?.copies.contains { $0.state == "leased" } == true
        }
        first.signal(SIGKILL)
        #expect(first.wait(seconds: 10) != nil)
        try cluster.startRunner(name: "rescuer")
        let view = try await cluster.waitForJob(job, seconds: 60)
        #expect(view.state == "completed", "\(view.failureReasons)")
        let copies = try await cluster.requester.units(ofJob: job).units[0].copies
        #expect(copies.contains { $0.state == "valid" && $0.runnerName == "rescuer" }, "\(copies)")
        #expect(copies.allSatisfy { $0.state != "leased" })
    }

    /// A runner killed mid-unit and started again on the same work directory comes back as the same
    /// runner: the copy it held is requeued at once (long before the 75 s lease ends), and the
    /// leaderboard keeps one row for it.
    @Test func restartedRunnerKeepsItsIdentity() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        let bundle = try cluster.bundle(
            "phoenix", spec: #"{"name": "phoenix", "command": ["/bin/sh", "-c", "sleep 2; echo done > /out/done"], "units": [{"id": "u"}]}"#,
            files: ["code/readme": "phoenix\n"]
        )
        let first = try cluster.startRunner(name: "phoenix")
        let job = try await cluster.submit(bundle)
        try await cluster.eventually(20, "the copy is leased") {
            try await cluster.requester.units(ofJob: job).units[0].copies.contains { $0.state == "leased" }
        }
        first.signal(SIGKILL)
        #expect(first.wait(seconds: 10) != nil)
        let restarted = ContinuousClock.now
        try cluster.startRunner(name: "phoenix")
        let view = try await cluster.waitForJob(job, seconds: 40)
        #expect(view.state == "completed", "\(view.failureReasons)")
        #expect(ContinuousClock.now - restarted < .seconds(40))
        let board = try await cluster.requester.leaderboard().runners
        #expect(board.filter { $0.name == "phoenix" }.count == 1, "\(board.map(\.name))")
        #expect(board.first { $0.name == "phoenix" }?.valid == 1)
    }

    /// Two runners with one name on one machine (the default name is the host name), each with its
    /// own work directory: when the second stops it removes its cgroup cap, which was the first
    /// one's too, and every unit the first started after that was refused (`mkdir …/slot-0: ENOENT`).
    @Test func twoRunnersWithOneNameKeepTheirOwnCaps() async throws {
        let first = try await Cluster(label: "twin-a")
        defer { first.shutdown() }
        let second = try await Cluster(label: "twin-b")
        defer { second.shutdown() }
        let units = #"[{"id": "u1"}, {"id": "u2"}, {"id": "u3"}]"#
        let bundle = try first.bundle(
            "twin", spec: #"{"name": "twin", "command": ["/bin/sh", "-c", "sleep 2; echo done > /out/done"], "units": \#(units)}"#,
            files: ["code/readme": "twin\n"]
        )
        try first.startRunner(name: "twin", extra: ["--max-units", "1"])
        let job = try await first.submit(bundle)
        try await first.eventually(20, "a copy is leased") {
            try await first.requester.units(ofJob: job).units.contains { $0.copies.contains { $0.state == "leased" } }
        }
        // The second starts (making its cap) and stops (removing it) while the first runs units;
        // the units after that still need the first runner's own cap.
        let twin = try second.startRunner(name: "twin")
        try await Task.sleep(for: .seconds(1))
        twin.stop()
        let view = try await first.waitForJob(job, seconds: 60)
        #expect(view.state == "completed", "\(view.failureReasons)\n\(first.logs())")
        for unit in try await first.requester.units(ofJob: job).units {
            #expect(unit.copies.count == 1 && unit.copies[0].state == "valid", "\(unit.unitID): \(unit.copies.map { ($0.state, $0.failReason) })")
        }
    }

    /// The orchestrator killed with SIGKILL mid-job and restarted on the same data dir: runners reconnect,
    /// the job completes, nothing is lost or counted twice.
    @Test func orchestratorKilledMidJobLosesNothing() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        let units = (1...6).map { #"{"id": "u\#($0)", "args": ["\#($0)"]}"# }.joined(separator: ", ")
        let bundle = try cluster.bundle(
            "many",
            spec: #"{"name": "many", "command": ["/bin/sh", "-c", "sleep 1; echo $1 > /out/n", "sh"], "units": [\#(units)], "redundancy": {"replicas": 2, "quorum": 2}}"#,
            files: ["code/readme": "many\n"]
        )
        for i in 1...2 { try cluster.startRunner(name: "r\(i)", extra: ["--max-units", "2"]) }
        let job = try await cluster.submit(bundle)
        try await cluster.eventually(60, "some copies are valid") {
            (try await cluster.requester.job(job).copies["valid"] ?? 0) >= 2
        }
        cluster.orchestrator!.signal(SIGKILL)
        #expect(cluster.orchestrator!.wait(seconds: 10) != nil)
        try await Task.sleep(for: .seconds(2))
        try await cluster.startOrchestrator()
        let view = try await cluster.waitForJob(job, seconds: 120)
        #expect(view.state == "completed", "\(view.failureReasons)\n\(cluster.logs())")
        let all = try await cluster.requester.units(ofJob: job).units
        #expect(all.count == 6)
        for unit in all {
            #expect(unit.copies.filter { $0.state == "valid" }.count == 2, "\(unit.unitID): \(unit.copies.map(\.state))")
        }
        // Reputation counts each valid copy once.
        let board = try await cluster.requester.leaderboard().runners
        #expect(board.reduce(0) { $0 + $1.valid } == 12, "\(board)")
        let results = try await cluster.results(job)
        for i in 1...6 {
            #expect(String(decoding: try FileIO.readFile(results + "/u\(i)/out/n"), as: UTF8.self) == "\(i)\n")
        }
    }

    /// A dishonest participant speaking the runner protocol returns a wrong output: it is outvoted,
    /// marked invalid, loses reputation, and the job's result is the honest one.
    @Test func dishonestRunnerIsOutvoted() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        let bundle = try cluster.bundle(
            "honest", spec: #"{"name": "honest", "command": ["/bin/sh", "-c", "echo 42 > /out/answer"], "units": [{"id": "q"}], "redundancy": {"replicas": 2, "quorum": 2}}"#,
            files: ["code/readme": "honest\n"]
        )
        let job = try await cluster.submit(bundle)
        let cheater = try cluster.runnerClient(volunteer: "cheater")
        let registration = try await cheater.register(
            RegisterRequest(name: "cheater", capacity: Capacity(millicpus: 4000, memoryBytes: 8 << 30, diskBytes: 8 << 30), arch: HostInfo.architecture(), profiles: ["default"], version: "evil")
        )
        let claimed = try await cheater.claim(ClaimRequest(runnerID: registration.runnerID, free: Capacity(millicpus: 4000, memoryBytes: 8 << 30, diskBytes: 8 << 30), wait: 5))
        let assignment = try #require(claimed.assignments.first)
        // Both honest volunteers are registered before the forged output lands: a unit whose outputs
        // differ once every registered volunteer has answered ends inconclusive (DESIGN.md).
        for i in 1...2 { try cluster.startRunner(name: "honest-\(i)") }
        try await cluster.eventually(30, "both honest runners registered") {
            Set(try await cluster.operatorClient.runners().runners.map(\.name)).isSuperset(of: ["honest-1", "honest-2"])
        }
        // A made-up output.
        let fake = cluster.directory + "/fake"
        try FileIO.makeDirectories(fake)
        try cluster.write(fake + "/answer", "41\n")
        let summary = try OutputArchive.pack(directory: fake, compressedPath: cluster.directory + "/fake.zst")
        try await cheater.uploadBlob(summary.blobDigest!, from: cluster.directory + "/fake.zst")
        _ = try await cheater.complete(
            assignment: assignment.assignmentID,
            CompleteRequest(runnerID: registration.runnerID, outputDigest: summary.outputDigest, blobDigest: summary.blobDigest!, usage: ResourceUsage(wallMs: 1, exitCode: 0))
        )
        let view = try await cluster.waitForJob(job)
        #expect(view.state == "completed", "\(view.failureReasons)")
        let copies = try await cluster.requester.units(ofJob: job).units[0].copies
        #expect(copies.first { $0.runnerName == "cheater" }?.state == "invalid", "\(copies.map { ($0.runnerName, $0.state) })")
        #expect(copies.filter { $0.state == "valid" }.count == 2)
        let board = try await cluster.requester.leaderboard().runners
        let cheat = try #require(board.first { $0.name == "cheater" })
        #expect(cheat.reputation == -5 && cheat.invalid == 1)
        let results = try await cluster.results(job)
        #expect(String(decoding: try FileIO.readFile(results + "/q/out/answer"), as: UTF8.self) == "42\n")
    }

    /// A non-deterministic unit (replicas 2, quorum 2) on three volunteers: three different outputs, and
    /// once every registered volunteer has answered the unit fails as inconclusive with the digests and
    /// a hint, instead of waiting forever for a fourth.
    @Test func disagreeingCopiesEndInconclusive() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        for i in 1...3 { try cluster.startRunner(name: "v\(i)") }
        try await cluster.eventually(30, "three volunteers registered") { try await cluster.operatorClient.runners().runners.count == 3 }
        let bundle = try cluster.bundle(
            "random",
            spec: #"{"name": "random", "command": ["/bin/sh", "-c", "head -c 16 /dev/urandom > /out/r"], "units": [{"id": "u"}], "redundancy": {"replicas": 2, "quorum": 2}}"#,
            files: ["code/readme": "random\n"]
        )
        let job = try await cluster.submit(bundle)
        let view = try await cluster.waitForJob(job, seconds: 60)
        #expect(view.state == "failed")
        let unit = try #require(try await cluster.requester.units(ofJob: job).units.first)
        #expect(unit.state == "failed" && unit.failure?.reason == "inconclusive", "\(unit)")
        let reason = unit.failureReason ?? ""
        #expect(reason.hasPrefix("inconclusive: 3 copies, 3 different outputs"), "\(reason)")
        #expect(reason.contains("make the unit deterministic, or use replicas 1"), "\(reason)")
        #expect(Set(unit.copies.compactMap(\.outputDigest)).count == 3, "\(unit.copies)")
    }

    /// A unit whose /out nests 65 levels deep: the runner does not pack it and fails the copy as
    /// `output-invalid`, naming the bound (not `disk-exceeded`), and `wu status` says what to change.
    @Test func anOutputPastTheBoundsFailsAsOutputInvalid() async throws {
        let cluster = try await Cluster(orchestratorFlags: ["--max-attempts", "1"])
        defer { cluster.shutdown() }
        try cluster.startRunner(name: "r1")
        // 64 directories and a file in the last: 65 levels.
        let script = "p=/out; i=0; while [ $i -lt 64 ]; do p=$p/d; i=$((i+1)); done; mkdir -p $p && echo x > $p/f"
        let bundle = try cluster.bundle(
            "deep", spec: #"{"name": "deep", "command": ["/bin/sh", "-c", "\#(script)"], "units": [{"id": "deep"}]}"#, files: ["code/x": "x\n"]
        )
        let job = try await cluster.submit(bundle)
        let view = try await cluster.waitForJob(job)
        #expect(view.state == "failed", "\(view.failureReasons)\n\(cluster.logs())")
        let unit = try #require(try await cluster.requester.units(ofJob: job).units.first)
        #expect(unit.failure?.reason == "output-invalid", "\(unit)")
        let copy = try #require(unit.copies.first)
        #expect(copy.failReason?.hasPrefix("output-invalid: the output is refused: it is deeper than 64 directories") == true, "\(copy)")
        #expect(copy.usage?.diskExceeded != true, "\(copy)")
        let log = cluster.directory + "/wu-status.log"
        let status = try ChildProcess(
            [binDirectory + "/wu", "status", job], log: log, environment: ["WU_ORCHESTRATOR": cluster.url, "WU_TOKEN": cluster.requesterToken]
        )
        #expect(status.wait(seconds: 60) == 0, "\(status.output)")
        let row = status.output.split(separator: "\n").first { $0.hasPrefix("  deep ") } ?? ""
        #expect(row.contains("deeper than 64 directories"), "\(status.output)")
        #expect(row.hasSuffix("keep /out within 100,000 entries, 64 directories deep and paths of 4,096 bytes"), "\(status.output)")
    }

    /// A bundle signed by a key the runner does not trust: the runner runs nothing from it and says why.
    @Test func untrustedSignerRunsNothing() async throws {
        let cluster = try await Cluster(orchestratorFlags: ["--max-attempts", "1"])
        defer { cluster.shutdown() }
        let other = try KeyFiles.generate(prefix: cluster.directory + "/other")
        let bundle = try cluster.bundle(
            "marker", spec: #"{"name": "marker", "command": ["/bin/sh", "-c", "touch /out/ran"], "units": [{"id": "u"}]}"#, files: ["code/x": "x\n"]
        )
        let runner = try cluster.startRunner(name: "picky", trust: cluster.directory + "/other.pub")
        _ = other
        let job = try await cluster.submit(bundle)
        try await cluster.eventually(30, "the copy failed as untrusted") {
            try await cluster.requester.units(ofJob: job).units[0].copies.contains { ($0.failReason ?? "").contains("untrusted") }
        }
        let reason = try await cluster.requester.units(ofJob: job).units[0].copies.compactMap(\.failReason).first ?? ""
        #expect(reason.contains("not trusted"), "\(reason)")
        #expect(!runner.output.contains("] started"), "the runner started something: \(runner.output)")
    }

    /// Matching that can fail: a 1G unit never goes to a 512M runner and is run by a 2G runner; a GPU unit
    /// never goes to a runner without one and is given to a client that registers with one.
    @Test func matchingRespectsMemoryAndGPUs() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        let big = try cluster.bundle(
            "big", spec: #"{"name": "big", "command": ["/bin/sh", "-c", "echo ok > /out/ok"], "resources": {"memory": "1G"}, "units": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}"#,
            files: ["code/x": "x\n"]
        )
        try cluster.startRunner(name: "small", memory: "512M")
        let bigJob = try await cluster.submit(big)
        try await Task.sleep(for: .seconds(4))
        #expect(try await cluster.requester.job(bigJob).copies["queued"] == 3, "a 512M runner took a 1G unit")
        try cluster.startRunner(name: "large", memory: "2G")
        let view = try await cluster.waitForJob(bigJob)
        #expect(view.state == "completed")
        let runners = try await cluster.requester.units(ofJob: bigJob).units.flatMap(\.copies).compactMap(\.runnerName)
        #expect(Set(runners) == ["large"], "\(runners)")

        let gpu = try cluster.bundle(
            "gpu", spec: #"{"name": "gpu", "command": ["/bin/true"], "resources": {"gpus": 1}, "units": [{"id": "g"}]}"#, files: ["code/x": "x\n"]
        )
        let gpuJob = try await cluster.submit(gpu)
        try await Task.sleep(for: .seconds(4))
        #expect(try await cluster.requester.job(gpuJob).copies["queued"] == 1, "a runner without a GPU took a GPU unit")
        let client = cluster.runnerClient
        let capacity = Capacity(millicpus: 1000, memoryBytes: 1 << 30, diskBytes: 1 << 30, gpus: 1)
        let registration = try await client.register(RegisterRequest(name: "gpu-box", capacity: capacity, arch: HostInfo.architecture(), profiles: ["default"], version: "t"))
        let claimed = try await client.claim(ClaimRequest(runnerID: registration.runnerID, free: capacity, wait: 5))
        #expect(claimed.assignments.map(\.jobID) == [gpuJob])
    }

    /// A bundle carrying its own profile: one wider than default is refused at submission naming what it adds;
    /// one narrower than strict runs on a strict-only runner, under that profile itself (its environment shows);
    /// one within default but wider than strict is never offered to that runner, and when the orchestrator hands
    /// it out anyway (its store edited behind its back, as a compromised one would), the runner refuses it at
    /// claim with reason `profile`, naming what it adds beyond strict, and starts nothing.
    /// A unit calling `mount` twice: the runner's report of the denied calls reaches the requester.
    @Test func deniedSyscallsReachTheRequester() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        try cluster.startRunner(name: "r1")
        let program = "import ctypes\\nlibc = ctypes.CDLL(None)\\nfor _ in range(2): libc.mount(0, 0, 0, 0, 0)\\nopen('/out/done', 'w').write('ok')\\n"
        let bundle = try cluster.bundle(
            "denied",
            spec: #"{"name": "denied", "command": ["/usr/bin/python3", "-c", "\#(program)"], "units": [{"id": "u"}]}"#,
            files: ["code/x": "x\n"]
        )
        let job = try await cluster.submit(bundle)
        let view = try await cluster.waitForJob(job)
        #expect(view.state == "completed", "\(view.failureReasons)\n\(cluster.logs())")
        let copies = try await cluster.requester.units(ofJob: job).units.flatMap(\.copies)
        let usage = try #require(copies.first?.usage)
        #expect(usage.deniedSyscalls == [.init(name: "mount", count: 2)], "\(usage.deniedSyscalls)")
        #expect(UsageTable.render(try await cluster.requester.units(ofJob: job).units).contains("mount×2"))
    }

    @Test func carriedProfilesAreCheckedByOrchestratorAndRunner() async throws {
        let cluster = try await Cluster(orchestratorFlags: ["--max-attempts", "1"])
        defer { cluster.shutdown() }
        func job(_ name: String, _ profile: String) throws -> String {
            try cluster.bundle(
                name,
                spec: #"{"name": "\#(name)", "command": ["/bin/sh", "-c", "echo $CARRIED > /out/mark"], "profile": {"file": "profile.json"}, "units": [{"id": "u"}]}"#,
                files: ["code/x": "x\n", "profile.json": profile]
            )
        }
        let wide = try job("wide", try profileVariant(of: "default", name: "wide", syscall: "ptrace"))
        do {
            _ = try await cluster.submit(wide)
            Issue.record("a profile granting ptrace was admitted")
        } catch let error as ClientError {
            #expect(error.status == 422 && error.code == "profile-too-wide", "\(error)")
            #expect(error.message.contains("beyond 'default': syscalls ptrace"), "\(error.message)")
        }

        let runner = try cluster.startRunner(name: "strict-only", extra: ["--profiles", "strict"])
        let narrow = try job("narrow", try profileVariant(of: "strict", name: "tight", environment: #""CARRIED": "carried""#))
        let narrowJob = try await cluster.submit(narrow)
        let done = try await cluster.waitForJob(narrowJob)
        #expect(done.state == "completed", "\(cluster.logs())")
        let results = try await cluster.results(narrowJob)
        #expect(String(decoding: try FileIO.readFile(results + "/u/out/mark"), as: UTF8.self) == "carried\n")

        let mid = try job("mid", try profileVariant(of: "default", name: "mine", environment: #""CARRIED": "mid""#))
        let midJob = try await cluster.submit(mid)
        try await Task.sleep(for: .seconds(4))
        #expect(try await cluster.requester.job(midJob).copies["queued"] == 1, "a strict-only runner was offered a profile wider than strict")
        let edit = try ChildProcess(
            [
                "/usr/bin/python3", "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE job SET profile_bases='[\\\"strict\\\"]' WHERE id=?\", (int(sys.argv[2]),)); c.commit()",
                cluster.directory + "/data/wu.sqlite", midJob,
            ],
            log: cluster.directory + "/edit.log"
        )
        #expect(edit.wait() == 0, "\(edit.output)")
        try await cluster.eventually(30, "the runner refused the copy") {
            try await cluster.requester.units(ofJob: midJob).units[0].copies.contains { $0.state == "failed" }
        }
        let reason = try await cluster.requester.units(ofJob: midJob).units[0].copies.compactMap(\.failReason).first ?? ""
        #expect(reason.contains("profile"), "\(reason)")
        #expect(reason.contains("profile 'mine' is wider than every profile this runner allows (beyond 'strict': "), "\(reason)")
        #expect(runner.output.split(separator: "] started", omittingEmptySubsequences: false).count == 2, "the runner started the refused unit: \(runner.output)")
    }

    /// SIGTERM drains: the running unit finishes and is reported, nothing stays leased, the runner exits 0.
    @Test func sigtermDrainsRunningUnits() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        let bundle = try cluster.bundle(
            "drain", spec: #"{"name": "drain", "command": ["/bin/sh", "-c", "sleep 2; echo finished > /out/f"], "units": [{"id": "u"}]}"#,
            files: ["code/x": "x\n"]
        )
        let runner = try cluster.startRunner(name: "leaving")
        let job = try await cluster.submit(bundle)
        try await cluster.eventually(20, "the unit is leased") {
            try await cluster.requester.units(ofJob: job).units[0].copies.contains { $0.state == "leased" }
        }
        runner.signal(SIGTERM)
        let status = runner.wait(seconds: 30)
        #expect(status == 0, "runner exit \(String(describing: status))\n\(runner.output)")
        let view = try await cluster.requester.job(job)
        #expect(view.state == "completed", "\(view.units)")
        let copies = try await cluster.requester.units(ofJob: job).units[0].copies
        #expect(copies.allSatisfy { $0.state != "leased" }, "\(copies.map(\.state))")
    }
}

func parseCounts(_ text: String) throws -> [String: Int] {
    var counts: [String: Int] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: "\t")
        guard parts.count == 2, let n = Int(parts[1]) else { throw WUError(.io, "bad line '\(line)'") }
        counts[String(parts[0])] = n
    }
    return counts
}

/// The word counts of bundles/wordcount/inputs, computed independently of the job's own code.
func expectedWordCounts() -> [String: Int] {
    var counts: [String: Int] = [:]
    for part in 1...3 {
        let text = String(decoding: (try? FileIO.readFile(repositoryRoot + "/bundles/wordcount/inputs/part-\(part).txt")) ?? [], as: UTF8.self)
        var word = ""
        for character in text + " " {
            if character.isASCII && (character.isLetter || character == "'") {
                word.append(character.lowercased())
            } else if !word.isEmpty {
                counts[word, default: 0] += 1
                word = ""
            }
        }
    }
    return counts
}
