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

/// What a requester reads from the real `wu` binary about a job that waits or failed, against a real
/// orchestrator. The runner's side is played through the runner protocol over HTTP: no sandbox is
/// needed to report an out-of-memory unit, so this suite runs without root.
@Suite(.serialized) struct JobReportCLITests {
    /// Runs the real `wu` with the cluster's orchestrator and requester token; returns its status and
    /// its standard output and error, together.
    func wu(_ cluster: Cluster, _ args: [String]) throws -> (status: Int32?, output: String) {
        let log = cluster.directory + "/wu-\(UInt32.random(in: 0...UInt32.max)).log"
        let process = try ChildProcess(
            [binDirectory + "/wu"] + args, log: log, environment: ["WU_ORCHESTRATOR": cluster.url, "WU_TOKEN": cluster.requesterToken]
        )
        let status = process.wait(seconds: 60)
        return (status, process.output)
    }

    @discardableResult
    func registerRunner(_ cluster: Cluster, name: String, cpus: Int) async throws -> String {
        let capacity = Capacity(millicpus: cpus, memoryBytes: 1 << 30, diskBytes: 1 << 30, gpus: 0)
        return try await cluster.runnerClient.register(
            RegisterRequest(name: name, capacity: capacity, arch: HostInfo.architecture(), profiles: ["default", "strict"], version: "t")
        ).runnerID
    }

    @Test func submitWarnsAndStatusSaysWhyAJobWaits() async throws {
        let cluster = try await Cluster(label: "report")
        defer { cluster.shutdown() }
        try await registerRunner(cluster, name: "half", cpus: 500)
        let bundle = try cluster.bundle(
            "typo", spec: #"{"name": "typo", "command": ["/bin/true"], "profile": "stirct", "units": [{"id": "a"}, {"id": "b"}]}"#,
            files: ["code/x": "x\n"]
        )
        let submitted = try wu(cluster, ["submit", bundle])
        #expect(submitted.status == 0, "\(submitted.output)")
        #expect(submitted.output.contains("wu: warning: no active runner can take job"), "\(submitted.output)")
        #expect(submitted.output.contains("no runner allows profile 'stirct'"), "\(submitted.output)")
        // Standard output (the job id) and standard error share the log: the id is the line of digits.
        let job = try #require(submitted.output.split(separator: "\n").first { !$0.isEmpty && $0.allSatisfy(\.isNumber) }.map(String.init))

        let status = try wu(cluster, ["status", job])
        #expect(status.status == 0, "\(status.output)")
        #expect(status.output.contains("job \(job) typo 1: pending"), "\(status.output)")
        #expect(status.output.contains("owner tester · submitted "), "\(status.output)")
        #expect(status.output.contains("units: 2 pending (of 2)"), "\(status.output)")
        #expect(status.output.contains("2 units wait: no runner allows profile 'stirct'"), "\(status.output)")

        // One cpu by default, on runners of half a cpu.
        let greedy = try cluster.bundle("greedy", spec: #"{"name": "greedy", "command": ["/bin/true"], "units": [{"id": "a"}]}"#, files: ["code/x": "x\n"])
        let warned = try wu(cluster, ["submit", greedy])
        #expect(warned.output.contains("needs 1 cpu, the largest active runner has 0.5"), "\(warned.output)")

        // A job a runner can take: no warning.
        let fits = try cluster.bundle(
            "fits", spec: #"{"name": "fits", "command": ["/bin/true"], "resources": {"cpus": 0.5}, "units": [{"id": "a"}]}"#, files: ["code/x": "x\n"]
        )
        let quiet = try wu(cluster, ["submit", fits])
        #expect(quiet.status == 0 && !quiet.output.contains("warning"), "\(quiet.output)")
    }

    @Test func waitStatusAndResultsNameEachFailedUnit() async throws {
        let cluster = try await Cluster(label: "report", orchestratorFlags: ["--max-attempts", "1"])
        defer { cluster.shutdown() }
        let runner = try await registerRunner(cluster, name: "r", cpus: 2000)
        let bundle = try cluster.bundle(
            "oom",
            spec: #"{"name": "oom", "command": ["/bin/true"], "resources": {"cpus": 0.5, "memory": "64M"}, "units": [{"id": "oom"}, {"id": "other"}]}"#,
            files: ["code/x": "x\n"]
        )
        let job = try await cluster.submit(bundle)
        let capacity = Capacity(millicpus: 2000, memoryBytes: 1 << 30, diskBytes: 1 << 30, gpus: 0)
        let claimed = try await cluster.runnerClient.claim(ClaimRequest(runnerID: runner, free: capacity, wait: 5, max: 2)).assignments
        #expect(claimed.count == 2)
        // The status of a job with a unit running shows it as leased, not pending.
        let running = try wu(cluster, ["status", job])
        #expect(running.output.contains("units: 2 leased (of 2)"), "\(running.output)")
        let oom = try #require(claimed.first { $0.unitID == "oom" })
        let usage = ResourceUsage(wallMs: 20, peakMemoryBytes: 64 << 20, signal: 9, oomKilled: true, stderrTail: "Traceback (most recent call last):\n  x\nMemoryError\n")
        _ = try await cluster.runnerClient.fail(
            assignment: oom.assignmentID,
            FailRequest(runnerID: runner, reason: "oom", message: "killed at the memory limit; stderr: MemoryError", usage: usage)
        )

        let waited = try wu(cluster, ["wait", job])
        #expect(waited.status == 1, "\(waited.output)")
        #expect(waited.output.contains("job \(job) failed:"), "\(waited.output)")
        #expect(waited.output.contains("\nunit oom: killed at its memory limit 64M; raise resources.memory\n"), "\(waited.output)")
        #expect(!waited.output.contains("Traceback"), "\(waited.output)")

        let status = try wu(cluster, ["status", job])
        #expect(status.output.contains("units: 1 failed · 1 cancelled (of 2)"), "\(status.output)")
        #expect(status.output.contains("failed units (1):"), "\(status.output)")
        let row = status.output.split(separator: "\n").first { $0.hasPrefix("  oom ") }
        #expect(row?.contains("oom") == true && row?.contains("sig9") == true, "\(status.output)")
        #expect(row?.hasSuffix("killed at its memory limit 64M; raise resources.memory") == true, "\(status.output)")

        let results = try wu(cluster, ["results", job, "-o", cluster.directory + "/out"])
        #expect(results.status == 1, "\(results.output)")
        #expect(results.output.contains("wu: error: 2 of 2 units have no output"), "\(results.output)")
        #expect(results.output.contains("unit oom: failed: killed at its memory limit 64M; raise resources.memory"), "\(results.output)")
        #expect(results.output.contains("unit other: cancelled"), "\(results.output)")
    }
}
