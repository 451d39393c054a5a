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

/// Each exit status README.md documents for `wu`, `wu-orchestrator` and `wu-runner`, driven through the
/// real binaries, with the one `PROGRAM: error: …` line; and the runner's signal rules.
@Suite(.serialized, .enabled(if: isRoot || ProcessInfo.processInfo.environment["CI"] == "true", "runners need root"))
struct ExitStatusTests {
    /// Runs a binary from the build directory to its end; returns its status and everything it printed.
    func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32?, output: String) {
        let log = "/tmp/wu-exit-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { unlink(log) }
        let process = try ChildProcess([binDirectory + "/" + program] + arguments, log: log, environment: environment)
        let status = process.wait(seconds: 60)
        if status == nil { process.signal(SIGKILL) }
        return (status, process.output)
    }

    /// One line, starting `PROGRAM: error: `, containing every one of `words`.
    func isOneErrorLine(_ output: String, _ program: String, _ words: String...) -> Bool {
        let lines = output.split(separator: "\n")
        return lines.count == 1 && lines[0].hasPrefix("\(program): error: ") && words.allSatisfy { output.contains($0) }
    }

    @Test func everyProgramHasVersionAndRefusesABadFlagWithStatus2() throws {
        for program in ["wu", "wu-orchestrator", "wu-runner"] {
            var r = try run(program, ["--version"])
            #expect(r.status == 0 && r.output == WUVersion.current + "\n", "\(program): \(r.output)")
            r = try run(program, ["--frobnicate"])
            #expect(r.status == 2 && isOneErrorLine(r.output, program, "--frobnicate", "--help"), "\(program): \(r.status as Any) \(r.output)")
        }
    }

    /// Flags a runner accepts (a trusted key in `tmp`, a closed port), for tests that change one of them.
    func validRunnerArguments(in tmp: String) throws -> [String] {
        try FileIO.makeDirectories(tmp)
        _ = try KeyFiles.generate(prefix: tmp + "/k")
        return [
            "--orchestrator", "http://127.0.0.1:9", "--token", "x", "--cpus", "0.5", "--memory", "256M", "--disk", "1G",
            "--work-dir", tmp + "/work", "--trust", tmp + "/k.pub",
        ]
    }

    @Test func runnerRefusesFlagsItCannotHonour() throws {
        let tmp = "/tmp/wu-exit-flags-\(getpid())"
        defer { FileIO.removeTree(tmp) }
        let base = try validRunnerArguments(in: tmp)
        func with(_ flag: String, _ value: String) -> [String] {
            var arguments = base
            arguments[arguments.firstIndex(of: flag)! + 1] = value
            return arguments
        }
        let cases: [([String], [String])] = [
            (with("--orchestrator", "localhost:18080"), ["--orchestrator", "http://", "localhost:18080"]),
            (with("--cpus", "999"), ["--cpus 999", "this machine's \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPU"]),
            (with("--memory", "10T"), ["--memory", "this machine's"]),
            (base + ["--profiles", "default,stirct"], ["'stirct'", "default, strict"]),
            (with("--work-dir", tmp + "/missing/work"), [tmp + "/missing", "not an existing directory"]),
        ]
        for (arguments, words) in cases {
            let r = try run("wu-runner", arguments)
            #expect(r.status == 2 && words.allSatisfy { r.output.contains($0) } && isOneErrorLine(r.output, "wu-runner"), "\(arguments): \(r.output)")
        }
    }

    /// A `WU_…` number that does not parse is invalid input, never "unset" (`WU_PIDS=abc` once
    /// meant "no pid cap"), in both programs that read them.
    @Test func environmentNumbersThatDoNotParseAreRefused() throws {
        let tmp = "/tmp/wu-exit-env-\(getpid())"
        defer { FileIO.removeTree(tmp) }
        let runner = try validRunnerArguments(in: tmp)
        for (name, value) in [("WU_PIDS", "abc"), ("WU_MAX_UNITS", "0"), ("WU_CLAIM_WAIT", "soon")] {
            let r = try run("wu-runner", runner, environment: [name: value])
            #expect(r.status == 2 && isOneErrorLine(r.output, "wu-runner", name), "\(name)=\(value): \(r.output)")
        }
        let r = try run("wu-orchestrator", ["serve", "--data-dir", "/nonexistent-wu"], environment: ["WU_LEASE_SECONDS": "75s"])
        #expect(r.status == 2 && isOneErrorLine(r.output, "wu-orchestrator", "WU_LEASE_SECONDS", "'75s'"), "\(r.output)")
    }

    /// Against a closed port the runner retries registering; SIGTERM ends it at once, with status 0.
    @Test func runnerExitsAtOnceOnSigtermWhileRegistering() async throws {
        let tmp = "/tmp/wu-exit-register-\(getpid())"
        try FileIO.makeDirectories(tmp)
        defer { FileIO.removeTree(tmp) }
        _ = try KeyFiles.generate(prefix: tmp + "/k")
        let runner = try ChildProcess(
            [
                binDirectory + "/wu-runner", "--orchestrator", "http://127.0.0.1:\(Cluster.freePort())", "--token", "x", "--cpus", "0.5",
                "--memory", "256M", "--disk", "1G", "--work-dir", tmp + "/work", "--trust", tmp + "/k.pub",
            ],
            log: tmp + "/runner.log"
        )
        defer { runner.signal(SIGKILL) }
        for _ in 0..<200 where !runner.output.contains("cannot register yet") { try await Task.sleep(for: .milliseconds(50)) }
        #expect(runner.output.contains("cannot register yet"), "\(runner.output)")
        runner.signal(SIGTERM)
        let status = runner.wait(seconds: 3)
        #expect(status == 0, "status \(String(describing: status)) after SIGTERM while registering\n\(runner.output)")
        #expect(runner.output.contains("nothing is running"), "\(runner.output)")
    }

    /// With a unit running, the first SIGTERM drains and says a second one stops it; the second releases it at once.
    @Test func secondSignalStopsRunningUnitsAtOnce() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        let bundle = try cluster.bundle(
            "long", spec: #"{"name": "long", "command": ["/bin/sh", "-c", "sleep 120"], "resources": {"wall_time": "5m"}, "units": [{"id": "u"}]}"#,
            files: ["code/x": "x\n"]
        )
        let runner = try cluster.startRunner(name: "stopping")
        let job = try await cluster.submit(bundle)
        try await cluster.eventually(20, "the runner claimed the unit") { runner.output.contains("claimed") }
        runner.signal(SIGTERM)
        try await cluster.eventually(10, "the first signal is logged") { runner.output.contains("send SIGTERM or SIGINT again to stop them now") }
        #expect(runner.wait(seconds: 2) == nil, "the runner did not wait for its unit")
        runner.signal(SIGTERM)
        let status = runner.wait(seconds: 15)
        #expect(status == 0, "status \(String(describing: status)) after the second SIGTERM\n\(runner.output)")
        let copies = try await cluster.requester.units(ofJob: job).units[0].copies
        #expect(copies.allSatisfy { $0.state != "leased" }, "\(copies.map(\.state))")
    }

    @Test func requesterStatusesThroughAnOrchestrator() async throws {
        let cluster = try await Cluster()
        defer { cluster.shutdown() }
        let env = ["WU_ORCHESTRATOR": cluster.url, "WU_TOKEN": cluster.requesterToken]
        // A bundle signed by a key the orchestrator does not know: 3, and who can fix it.
        let stranger = try KeyFiles.generate(prefix: cluster.directory + "/stranger")
        let unknown = try cluster.bundle("unknown", spec: #"{"name": "u", "command": ["/bin/true"], "units": [{"id": "u"}]}"#, files: ["code/x": "x\n"], key: stranger)
        var r = try run("wu", ["submit", unknown], environment: env)
        #expect(r.status == 3 && isOneErrorLine(r.output, "wu", stranger.publicKey.keyID, "wu-orchestrator keys add"), "\(r.output)")
        // A token the orchestrator does not accept: 3.
        r = try run("wu", ["status"], environment: ["WU_ORCHESTRATOR": cluster.url, "WU_TOKEN": "wu_nothing"])
        #expect(r.status == 3 && isOneErrorLine(r.output, "wu", "--token"), "\(r.output)")
        // `wu wait --timeout` on a job no runner takes: 5, and the job goes on.
        let pending = try cluster.bundle("pending", spec: #"{"name": "p", "command": ["/bin/true"], "units": [{"id": "u"}]}"#, files: ["code/x": "x\n"])
        let job = try await cluster.submit(pending)
        r = try run("wu", ["wait", job, "--timeout", "1"], environment: env)
        let errors = r.output.split(separator: "\n").filter { $0.hasPrefix("wu: error: ") }
        #expect(r.status == 5 && errors.count == 1 && errors[0].hasPrefix("wu: error: job \(job) did not finish within 1 s"), "\(r.output)")
        // Nothing listening: 1, naming the address.
        r = try run("wu", ["status"], environment: ["WU_ORCHESTRATOR": "http://127.0.0.1:\(Cluster.freePort())", "WU_TOKEN": "x"])
        #expect(r.status == 1 && isOneErrorLine(r.output, "wu", "127.0.0.1"), "\(r.output)")

        // https to a plain server: a clear line at once, not a handshake error after 30 s.
        let started = ContinuousClock.now
        r = try run("wu", ["status"], environment: ["WU_ORCHESTRATOR": "https://127.0.0.1:\(cluster.port)", "WU_TOKEN": "x"])
        #expect(r.status == 1 && isOneErrorLine(r.output, "wu", "TLS", "http://"), "\(r.output)")
        #expect(ContinuousClock.now - started < .seconds(10), "took \(ContinuousClock.now - started)")

        // The orchestrator's own: the address in use (1), a missing store (1), --init, one live token per name (2).
        r = try run("wu-orchestrator", ["serve", "--data-dir", cluster.directory + "/second", "--listen", "127.0.0.1:\(cluster.port)"])
        #expect(r.status == 1 && isOneErrorLine(r.output, "wu-orchestrator", "127.0.0.1:\(cluster.port)", "in use"), "\(r.output)")
        r = try run("wu-orchestrator", ["token", "create", "--role", "requester", "--name", "x", "--data-dir", cluster.directory + "/typo"])
        #expect(r.status == 1 && isOneErrorLine(r.output, "wu-orchestrator", cluster.directory + "/typo", "--init"), "\(r.output)")
        #expect(access(cluster.directory + "/typo", F_OK) != 0, "a store was made for a mistyped --data-dir")
        r = try run("wu-orchestrator", ["token", "create", "--role", "requester", "--name", "x", "--data-dir", cluster.directory + "/new", "--init"])
        #expect(r.status == 0 && r.output.hasPrefix("wu_"), "\(r.output)")
        r = try run("wu-orchestrator", ["token", "create", "--role", "requester", "--name", "tester", "--data-dir", cluster.dataDirectory])
        #expect(r.status == 2 && isOneErrorLine(r.output, "wu-orchestrator", "'tester'", "token revoke"), "\(r.output)")
        r = try run("wu-orchestrator", ["serve", "--data-dir", cluster.directory + "/third"], environment: ["WU_LISTEN": "nowhere"])
        #expect(r.status == 2 && isOneErrorLine(r.output, "wu-orchestrator", "WU_LISTEN", "'nowhere'"), "\(r.output)")
    }
}
