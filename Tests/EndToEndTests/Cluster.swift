import FoundationEssentials
import Testing
import WUCore
import WUProtocol
import WURunner
#if canImport(Glibc)
import Glibc
#endif

let isRoot = geteuid() == 0

/// The directory holding the binaries `swift test` built.
let binDirectory: String = {
    let components = CommandLine.arguments[0].split(separator: "/", omittingEmptySubsequences: false)
    let bundleIndex = components.lastIndex { $0.hasSuffix(".xctest") } ?? components.count - 1
    return components[..<bundleIndex].joined(separator: "/")
}()

/// A child process of the test, with its output in a log file.
final class ChildProcess: @unchecked Sendable {  // pid and log path are set once in init; kill/wait are idempotent syscalls
    let pid: pid_t
    let log: String

    init(_ argv: [String], log: String, environment: [String: String] = [:]) throws {
        self.log = log
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let cArgs = argv.map { strdup($0) } + [nil]
        defer {
            cEnv.forEach { free($0) }
            cArgs.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw SystemCallError("posix_spawn", path: argv[0], errno: rc) }
        self.pid = pid
    }

    func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the process to exit (up to `seconds`); returns its exit status, or nil if it is still running.
    @discardableResult
    func wait(seconds: Double = 30) -> Int32? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
            if r < 0 { return -1 }
            usleep(20_000)
        }
        return nil
    }

    var output: String { String(decoding: (try? FileIO.readFile(log)) ?? [], as: UTF8.self) }

    func stop() {
        signal(SIGTERM)
        if wait(seconds: 20) == nil {
            signal(SIGKILL)
            wait(seconds: 5)
        }
    }
}

/// A real orchestrator and real runners on loopback, in a temporary directory.
final class Cluster: @unchecked Sendable {  // used from one test at a time; the mutable lists are only touched by that test
    let directory: String
    let port: Int
    var orchestrator: ChildProcess?
    var runners: [ChildProcess] = []
    var requesterToken = ""
    var runnerToken = ""
    var adminToken = ""
    let key: SigningKey
    let orchestratorFlags: [String]

    init(orchestratorFlags: [String] = []) async throws {
        var template = Array("/tmp/wu-e2e-XXXXXX".utf8CString)
        _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        chmod(directory, 0o711)
        port = Cluster.freePort()
        self.orchestratorFlags = orchestratorFlags
        key = try KeyFiles.generate(prefix: directory + "/requester")
        try await startOrchestrator()
        requesterToken = try admin(["token", "create", "--role", "requester", "--name", "tester"])
        runnerToken = try admin(["token", "create", "--role", "runner", "--name", "pool"])
        adminToken = try admin(["token", "create", "--role", "admin", "--name", "op"])
        _ = try admin(["keys", "add", "--name", "requester", directory + "/requester.pub"])
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var requester: OrchestratorClient { OrchestratorClient(baseURL: url, token: requesterToken) }
    var operatorClient: OrchestratorClient { OrchestratorClient(baseURL: url, token: adminToken) }
    var runnerClient: OrchestratorClient { OrchestratorClient(baseURL: url, token: runnerToken) }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func startOrchestrator() async throws {
        orchestrator = try ChildProcess(
            [binDirectory + "/wu-orchestrator", "serve", "--data-dir", directory + "/data", "--listen", "127.0.0.1:\(port)"] + orchestratorFlags,
            log: directory + "/orchestrator.log"
        )
        for _ in 0..<200 {
            if orchestrator!.output.contains("listening on") { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WUError(.io, "the orchestrator did not start: \(orchestrator!.output)")
    }

    /// Runs `wu-orchestrator ARGS --data-dir …` and returns its standard output's last line.
    func admin(_ args: [String]) throws -> String {
        let log = directory + "/admin-\(UInt32.random(in: 0...UInt32.max)).log"
        let process = try ChildProcess([binDirectory + "/wu-orchestrator"] + args + ["--data-dir", directory + "/data"], log: log)
        let status = process.wait()
        let out = process.output
        guard status == 0 else { throw WUError(.io, "wu-orchestrator \(args.joined(separator: " ")) failed: \(out)") }
        return out.split(separator: "\n").last.map(String.init) ?? ""
    }

    @discardableResult
    func startRunner(name: String, cpus: String = "1", memory: String = "1G", disk: String = "2G", trust: String? = nil, extra: [String] = []) throws -> ChildProcess {
        let runner = try ChildProcess(
            [
                binDirectory + "/wu-runner", "--orchestrator", url, "--token", runnerToken, "--cpus", cpus, "--memory", memory, "--disk", disk,
                "--work-dir", directory + "/runner-" + name, "--trust", trust ?? directory + "/requester.pub", "--name", name, "--claim-wait", "2",
                "--drain-timeout", "20",
            ] + extra,
            log: directory + "/runner-\(name).log"
        )
        runners.append(runner)
        return runner
    }

    /// Writes a job directory and packs it; returns the bundle path.
    func bundle(_ name: String, spec: String, files: [String: String], key: SigningKey? = nil) throws -> String {
        let job = directory + "/jobs/" + name
        try FileIO.makeDirectories(job + "/code")
        try write(job + "/wu.json", spec)
        for (path, text) in files {
            let full = job + "/" + path
            try FileIO.makeDirectories(String(full[..<full.lastIndex(of: "/")!]))
            try write(full, text)
        }
        let output = directory + "/" + name + ".wu"
        _ = try BundlePacker.pack(jobDirectory: job, key: key ?? self.key, output: output)
        return output
    }

    func write(_ path: String, _ text: String) throws {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o755)
        defer { close(fd) }
        try Array(text.utf8).withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
    }

    func submit(_ bundle: String) async throws -> String {
        try await requester.submit(bundle: bundle, priority: nil).jobID
    }

    /// Polls until the job finishes or `seconds` pass.
    func waitForJob(_ id: String, seconds: Int = 90) async throws -> JobView {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            if let view = try? await requester.job(id), view.isFinished { return view }
            guard ContinuousClock.now < deadline else {
                let view = try await requester.job(id)
                throw WUError(.io, "job \(id) is still \(view.state) after \(seconds) s: \(view.units)\n\(logs())")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Polls `condition` every 100 ms until it holds or `seconds` pass.
    func eventually(_ seconds: Double = 30, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw WUError(.io, "timed out waiting for: \(what)\n\(logs())")
    }

    func logs() -> String {
        ([orchestrator].compactMap { $0 } + runners).map { "--- \($0.log)\n" + String($0.output.suffix(3000)) }.joined(separator: "\n")
    }

    func results(_ jobID: String) async throws -> String {
        let out = directory + "/results-" + jobID
        _ = try await ResultsDownloader.download(client: requester, jobID: jobID, to: out)
        return out
    }

    func shutdown() {
        for runner in runners { runner.stop() }
        orchestrator?.stop()
        FileIO.removeTree(directory)
    }
}

/// `sandbox-profiles/<base>.json` renamed, with a syscall allowed, a host path bound or variables set on top.
func profileVariant(of base: String, name: String, syscall: String? = nil, mount: String? = nil, environment: String? = nil) throws -> String {
    let root = String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/"))
    var text = String(decoding: try FileIO.readFile("/" + root + "/sandbox-profiles/" + base + ".json"), as: UTF8.self)
    text = text.replacing(#""name": "\#(base)""#, with: #""name": "\#(name)""#)
    if let syscall { text = text.replacing(#""syscalls": ["#, with: #""syscalls": [{"names": ["\#(syscall)"], "action": "SCMP_ACT_ALLOW"},"#) }
    if let mount { text = text.replacing(#""mounts": ["#, with: #""mounts": [{"source": "\#(mount)"},"#) }
    if let environment { text = text.replacing(#""environment": {"#, with: #""environment": {\#(environment),"#) }
    return text
}
