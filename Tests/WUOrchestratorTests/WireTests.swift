import AsyncHTTPClient
import FoundationEssentials
import GRDB
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

#if canImport(Glibc)
import Glibc
#endif

extension OrchestratorTests {
    /// Over a real socket: concurrent claimers, and a real server process killed with SIGKILL.
    @Suite(.serialized) struct WireTests {
        static let free = #""free":{"millicpus":4000,"memory_bytes":8589934592,"disk_bytes":8589934592}"#

        static func post(_ client: HTTPClient, _ url: String, token: String, _ body: String) async throws -> (Int, [UInt8]) {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer \(token)")
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await client.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 16 << 20)
            return (Int(response.status.code), Array(bytes.readableBytesView))
        }

        @Test func sixteenConcurrentClientsNeverGetTheSameCopy() async throws {
            let h = try Harness()
            try await h.makeJob(units: 200)
            var runners: [String] = []
            for i in 0..<16 { runners.append(try await h.register("r\(i)")) }
            let app = Application(router: h.orchestrator.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
            let runnerIDs = runners
            try await app.test(.live) { client in
                let port = try #require(client.port)
                // One connection per claimer: 16 clients really in flight at once.
                var configuration = HTTPClient.Configuration()
                configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 32
                let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
                do {
                    let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
                        for r in runnerIDs {
                            group.addTask {
                                var mine: [String] = []
                                while true {
                                    let (status, body) = try await Self.post(
                                        http,
                                        "http://127.0.0.1:\(port)/v1/runners/claim",
                                        token: h.runnerToken,
                                        #"{"runner_id":"\#(r)",\#(Self.free),"wait":0,"max":2}"#
                                    )
                                    #expect(status == 200)
                                    let response = try JSONDecoder().decode(ClaimResponse.self, from: Data(body))
                                    if response.assignments.isEmpty { return mine }
                                    mine += response.assignments.map { "\($0.jobID)/\($0.unitID)" }
                                }
                            }
                        }
                        return try await group.reduce(into: [String]()) { $0 += $1 }
                    }
                    #expect(claimed.count == 200)
                    #expect(Set(claimed).count == 200)
                } catch {
                    try await http.shutdown()
                    throw error
                }
                try await http.shutdown()
            }
            let leased = try await h.orchestrator.store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT copy_id) FROM assignment WHERE state = 'leased'")
            }
            #expect(leased == 200)
        }

        /// Where `swift build` put the server binary: next to the test bundle.
        static var serverBinary: String? {
            var buffer = [CChar](repeating: 0, count: 4096)
            let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
            guard n > 0 else { return nil }
            var path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            while !path.isEmpty {
                path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
                let candidate = path + "/wu-orchestrator"
                if access(candidate, X_OK) == 0 { return candidate }
                if path.hasSuffix("/debug") || path.hasSuffix("/release") { break }
            }
            return nil
        }

        /// A server process; its first stdout line names the port.
        final class ServerProcess: Sendable {
            let pid: pid_t
            let port: Int

            init(binary: String, arguments: [String]) throws {
                var pipeFDs: [Int32] = [0, 0]
                guard pipe(&pipeFDs) == 0 else { throw WUError(.io, "pipe failed") }
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
                posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
                posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
                let all: [String] = [binary] + arguments
                let argv: [UnsafeMutablePointer<CChar>?] = all.map { strdup($0) } + [nil]
                defer { argv.forEach { Glibc.free($0) } }
                var pid: pid_t = 0
                let rc = posix_spawn(&pid, binary, &actions, nil, argv, environ)
                posix_spawn_file_actions_destroy(&actions)
                close(pipeFDs[1])
                guard rc == 0 else { throw WUError(.io, "cannot start \(binary)") }
                self.pid = pid
                var line: [UInt8] = []
                var byte: UInt8 = 0
                while read(pipeFDs[0], &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(byte) }
                close(pipeFDs[0])
                let text = String(decoding: line, as: UTF8.self)
                let marker = "http://127.0.0.1:"
                let tail = text.split(separator: " ").first { $0.hasPrefix(marker) }?.dropFirst(marker.count)
                guard let tail, let port = Int(tail.prefix { $0.isNumber })
                else {
                    kill(pid, SIGKILL)
                    throw WUError(.io, "the server did not say where it listens: \(text)")
                }
                self.port = port
            }

            func kill9() {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }

            func terminate() -> Int32 {
                kill(pid, SIGTERM)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                return status
            }
        }

        @Test(.enabled(if: serverBinary != nil, "needs the wu-orchestrator binary built next to the tests"))
        func aServerKilledWithSIGKILLKeepsEveryAcknowledgedResult() async throws {
            let binary = try #require(Self.serverBinary)
            let directory = try Harness.temporaryDirectory()
            defer { Harness.remove(directory) }
            // Set up tokens and a job directly in the store, as `wu-orchestrator token create` would.
            let (runnerToken, jobID, output) = try await { () async throws -> (String, String, OutputArchive.Summary) in
                let h = try Harness { $0.dataDirectory = directory }
                let job = try await h.makeJob(units: 3000)
                return (h.runnerToken, job, try h.output("the same output"))
            }()
            _ = jobID
            let arguments = ["serve", "--data-dir", directory, "--listen", "127.0.0.1:0", "--lease-seconds", "2", "--requeue-sweep-seconds", "1"]
            let server = try ServerProcess(binary: binary, arguments: arguments)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let base = "http://127.0.0.1:\(server.port)"
            var acknowledged: [String] = []
            do {
                let (status, body) = try await Self.post(http, base + "/v1/runners/register", token: runnerToken, RouterTests.registerBody)
                #expect(status == 201)
                let runnerID = try JSONDecoder().decode(RegisterResponse.self, from: Data(body)).runnerID
                // Upload one output blob over the wire.
                let blob = output.blobDigest!
                var put = HTTPClientRequest(url: base + "/v1/blobs/\(blob)")
                put.method = .PUT
                put.headers.add(name: "authorization", value: "Bearer \(runnerToken)")
                put.body = .bytes(ByteBuffer(bytes: try read(directory + "/blobs/" + blob)))
                #expect(try await http.execute(put, timeout: .seconds(10)).status.code == 201)
                let complete =
                    #"{"runner_id":"\#(runnerID)","output_digest":"\#(output.outputDigest)","blob_digest":"\#(blob)","usage":{"wall_ms":1}}"#
                acknowledged = await withTaskGroup(of: [String].self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            var mine: [String] = []
                            while true {
                                guard
                                    let (status, body) = try? await Self.post(
                                        http,
                                        base + "/v1/runners/claim",
                                        token: runnerToken,
                                        #"{"runner_id":"\#(runnerID)",\#(Self.free),"wait":0,"max":4}"#
                                    ),
                                    status == 200, let claim = try? JSONDecoder().decode(ClaimResponse.self, from: Data(body))
                                else { return mine }
                                for a in claim.assignments {
                                    guard
                                        let (status, _) = try? await Self.post(
                                            http,
                                            base + "/v1/assignments/\(a.assignmentID)/complete",
                                            token: runnerToken,
                                            complete
                                        )
                                    else { return mine }
                                    if status == 200 { mine.append(a.assignmentID) }
                                }
                                // Keep requests in flight without taking both cores from suites that run alongside.
                                try? await Task.sleep(for: .milliseconds(3))
                            }
                        }
                    }
                    group.addTask {
                        // Kill the server mid-load, once some results are in.
                        try? await Task.sleep(for: .milliseconds(1500))
                        server.kill9()
                        return []
                    }
                    return await group.reduce(into: [String]()) { $0 += $1 }
                }
            }
            #expect(acknowledged.count > 0)
            // Restart on the same directory: every acknowledged result is there.
            let restarted = try ServerProcess(binary: binary, arguments: arguments)
            defer { _ = restarted.terminate() }
            let store = try OrchestratorStore(dataDirectory: directory)
            let states = try await store.pool.read { db in
                try Dictionary(
                    Row.fetchAll(
                        db,
                        sql: "SELECT a.id, a.state, c.state AS copy_state FROM assignment a JOIN copy c ON c.id = a.copy_id"
                    ).map { (String($0["id"] as Int64), ($0["state"] as String, $0["copy_state"] as String)) },
                    uniquingKeysWith: { a, _ in a }
                )
            }
            for id in acknowledged {
                #expect(states[id]?.0 == "completed", "assignment \(id)")
                #expect(states[id]?.1 == "valid", "assignment \(id)")
            }
            // A copy is leased only under its one live assignment; expired leases are requeued by the restarted server.
            let inconsistent = try await store.pool.read { db in
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT COUNT(*) FROM copy c WHERE (c.state = 'leased') !=
                            EXISTS (SELECT 1 FROM assignment a WHERE a.id = c.assignment_id AND a.state = 'leased')
                            AND c.state IN ('leased', 'queued')
                        """
                )
            }
            #expect(inconsistent == 0)
            var leased = 1
            for _ in 0..<50 where leased > 0 {
                try await Task.sleep(for: .milliseconds(200))
                leased = try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM copy WHERE state = 'leased'") ?? 0 }
            }
            #expect(leased == 0)
            try await http.shutdown()
        }

        @Test(.enabled(if: serverBinary != nil, "needs the wu-orchestrator binary built next to the tests"))
        func sigtermShutsDownGracefullyAndCheckpoints() async throws {
            let binary = try #require(Self.serverBinary)
            let directory = try Harness.temporaryDirectory()
            defer { Harness.remove(directory) }
            let token = try TokenAdmin(store: try OrchestratorStore(dataDirectory: directory)).create(role: .runner, name: "r")
            let server = try ServerProcess(binary: binary, arguments: ["serve", "--data-dir", directory, "--listen", "127.0.0.1:0"])
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let (status, _) = try await Self.post(http, "http://127.0.0.1:\(server.port)/v1/runners/register", token: token, RouterTests.registerBody)
            #expect(status == 201)
            // A claim long-polling when SIGTERM arrives is answered, and the process exits 0.
            async let waiting = Self.post(
                http,
                "http://127.0.0.1:\(server.port)/v1/runners/claim",
                token: token,
                #"{"runner_id":"1",\#(Self.free),"wait":60}"#
            )
            try await Task.sleep(for: .milliseconds(300))
            let started = ContinuousClock.now
            let exit = server.terminate()
            #expect(exit == 0)
            #expect(started.duration(to: .now) < .seconds(20))
            let answered = try? await waiting
            #expect(answered?.0 == 200)
            let wal = (try? read(directory + "/wu.sqlite-wal"))?.count ?? 0
            #expect(wal == 0)
            try await http.shutdown()
        }
    }
}
