import FoundationEssentials
public import WUCore
public import WUProtocol
public import WUClient
public import WURunner
import AsyncHTTPClient
#if canImport(Glibc)
import Glibc
#endif

/// A real orchestrator and real runners on loopback, in a temporary directory.
public final class Cluster: @unchecked Sendable {  // used from one test at a time; the mutable lists are only touched by that test
    public let directory: String
    public let port: Int
    public var orchestrator: ChildProcess?
    public var runners: [ChildProcess] = []
    public var requesterToken = ""
    /// A runner token not used by `startRunner` (which gives each volunteer its own): for tests speaking the protocol.
    public var runnerToken = ""
    /// Each volunteer's runner token, by volunteer name.
    public var volunteerTokens: [String: String] = [:]
    public var adminToken = ""
    public let key: SigningKey
    public let orchestratorFlags: [String]
    /// With `tls`, the private CA and the orchestrator's certificate; every client here trusts that CA.
    public let certificates: TestCertificates?
    let http: HTTPClient

    /// Starts the orchestrator in a new directory `/tmp/wu-<label>-XXXXXX` and makes tokens and a
    /// requester key; with `tls`, over https with a certificate of a private CA made for it.
    public init(label: String = "e2e", orchestratorFlags: [String] = [], tls: Bool = false) async throws {
        var template = Array("/tmp/wu-\(label)-XXXXXX".utf8CString)
        _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        chmod(directory, 0o711)
        port = Cluster.freePort()
        certificates = tls ? try TestCertificates(in: directory) : nil
        self.orchestratorFlags = orchestratorFlags + (certificates.map { ["--tls-cert", $0.certificateFile, "--tls-key", $0.keyFile] } ?? [])
        http = try OrchestratorClient.http(trustingCA: certificates?.caFile)
        key = try KeyFiles.generate(prefix: directory + "/requester")
        try await startOrchestrator()
        requesterToken = try admin(["token", "create", "--role", "requester", "--name", "tester"])
        runnerToken = try admin(["token", "create", "--role", "runner", "--name", "pool"])
        adminToken = try admin(["token", "create", "--role", "admin", "--name", "op"])
        _ = try admin(["keys", "add", "--name", "requester", directory + "/requester.pub"])
    }

    public var dataDirectory: String { directory + "/data" }
    public var url: String { (certificates == nil ? "http" : "https") + "://127.0.0.1:\(port)" }
    public var requester: OrchestratorClient { OrchestratorClient(baseURL: url, token: requesterToken, http: http) }
    public var operatorClient: OrchestratorClient { OrchestratorClient(baseURL: url, token: adminToken, http: http) }
    public var runnerClient: OrchestratorClient { OrchestratorClient(baseURL: url, token: runnerToken, http: http) }

    /// A volunteer's own runner token, made on first use: copies of one unit go to distinct tokens.
    public func volunteerToken(_ volunteer: String) throws -> String {
        if let token = volunteerTokens[volunteer] { return token }
        let token = try admin(["token", "create", "--role", "runner", "--name", volunteer])
        volunteerTokens[volunteer] = token
        return token
    }

    /// A protocol client speaking for the volunteer `volunteer` with its own token.
    public func runnerClient(volunteer: String) throws -> OrchestratorClient {
        OrchestratorClient(baseURL: url, token: try volunteerToken(volunteer), http: http)
    }

    public static func freePort() -> Int {
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

    /// Starts (or restarts) the orchestrator on the cluster's port and data directory.
    public func startOrchestrator() async throws {
        let log = directory + "/orchestrator.log"
        let before = (try? FileIO.readFile(log).count) ?? 0
        orchestrator = try ChildProcess(
            [binDirectory + "/wu-orchestrator", "serve", "--data-dir", dataDirectory, "--listen", "127.0.0.1:\(port)"] + orchestratorFlags,
            log: log
        )
        for _ in 0..<400 {
            if String(orchestrator!.output.utf8.dropFirst(before))?.contains("listening on") == true { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WUError(.io, "the orchestrator did not start: \(orchestrator!.output)")
    }

    /// Runs `wu-orchestrator ARGS --data-dir …` and returns its standard output's last line.
    public func admin(_ args: [String]) throws -> String {
        let log = directory + "/admin-\(UInt32.random(in: 0...UInt32.max)).log"
        let process = try ChildProcess([binDirectory + "/wu-orchestrator"] + args + ["--data-dir", dataDirectory], log: log)
        let status = process.wait()
        let out = process.output
        guard status == 0 else { throw WUError(.io, "wu-orchestrator \(args.joined(separator: " ")) failed: \(out)") }
        return out.split(separator: "\n").last.map(String.init) ?? ""
    }

    /// Starts a runner as the volunteer `volunteer` (by default one of its own named after the runner).
    @discardableResult
    public func startRunner(
        name: String, volunteer: String? = nil, cpus: String = "1", memory: String = "1G", disk: String = "2G", trust: String? = nil, extra: [String] = []
    ) throws -> ChildProcess {
        let token = try volunteerToken(volunteer ?? name)
        let runner = try ChildProcess(
            [
                binDirectory + "/wu-runner", "--orchestrator", url, "--token", token, "--cpus", cpus, "--memory", memory, "--disk", disk,
                "--work-dir", directory + "/runner-" + name, "--trust", trust ?? directory + "/requester.pub", "--name", name, "--claim-wait", "2",
                "--drain-timeout", "20",
            ] + (certificates.map { ["--ca", $0.caFile] } ?? []) + extra,
            log: directory + "/runner-\(name).log"
        )
        runners.append(runner)
        return runner
    }

    /// Writes a job directory and packs it; returns the bundle path.
    public func bundle(_ name: String, spec: String, files: [String: String], key: SigningKey? = nil) throws -> String {
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

    public func write(_ path: String, _ text: String) throws {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o755)
        defer { close(fd) }
        try Array(text.utf8).withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
    }

    public func submit(_ bundle: String) async throws -> String {
        try await requester.submit(bundle: bundle, priority: nil).jobID
    }

    /// Polls until the job finishes or `seconds` pass.
    public func waitForJob(_ id: String, seconds: Int = 90) async throws -> JobView {
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
    public func eventually(_ seconds: Double = 30, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw WUError(.io, "timed out waiting for: \(what)\n\(logs())")
    }

    public func logs() -> String {
        ([orchestrator].compactMap { $0 } + runners).map { "--- \($0.log)\n" + String($0.output.suffix(3000)) }.joined(separator: "\n")
    }

    public func results(_ jobID: String) async throws -> String {
        let out = directory + "/results-" + jobID
        _ = try await ResultsDownloader.download(client: requester, jobID: jobID, to: out)
        return out
    }

    public func shutdown() {
        for runner in runners { runner.stop() }
        orchestrator?.stop()
        FileIO.removeTree(directory)
    }
}
