import AsyncHTTPClient
import FoundationEssentials
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import Testing
import WUProtocol

@testable import WUOrchestrator

#if canImport(Glibc)
import Glibc
#endif

/// The server under hostile clients, over real loopback connections to `Orchestrator.application`
/// (the server `wu-orchestrator serve` runs): idle and header timeouts that spare long polls, and
/// the bound on failed token attempts.
@Suite(.serialized) struct ServerLimitsTests {
    /// A TCP connection that sends `bytes` and then reports whether the server closed it within `seconds`.
    static func serverCloses(port: Int, after bytes: String, within seconds: Int) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        _ = bytes.withCString { send(fd, $0, strlen($0), 0) }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(seconds * 1000)) == 1 else { return false }
        var buffer = [UInt8](repeating: 0, count: 512)
        return recv(fd, &buffer, buffer.count, 0) == 0
    }

    static func live(_ h: Harness, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let app = try h.orchestrator.application(logger: Logger(label: "test"))
        try await app.test(.live) { client in try await body(try #require(client.port)) }
    }

    @Test func aConnectionWithAPartialRequestHeadIsClosed() async throws {
        let h = try Harness { $0.port = 0; $0.idleTimeoutSeconds = 1 }
        try await Self.live(h) { port in
            // A request head that never ends: the server must not hold the connection for ever.
            let partialClosed = try Self.serverCloses(port: port, after: "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ", within: 5)
            #expect(partialClosed)
            // The control: a complete request is answered, not closed.
            let completeClosed = try Self.serverCloses(port: port, after: "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", within: 0)
            #expect(!completeClosed)
        }
    }

    @Test func aLongPollOutlivesTheIdleTimeout() async throws {
        let h = try Harness { $0.port = 0; $0.idleTimeoutSeconds = 1 }
        let runnerID = try await h.register("patient")
        try await Self.live(h) { port in
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/runners/claim")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(h.runnerToken)")
            request.body = .bytes(ByteBuffer(string: #"{"runner_id":"\#(runnerID)","free":{"millicpus":1000,"memory_bytes":1073741824,"disk_bytes":1073741824,"gpus":0},"wait":3,"max":1}"#))
            let started = ContinuousClock.now
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            #expect(response.status == .ok, "\(String(buffer: body))")
            #expect(ContinuousClock.now - started >= .seconds(2.5), "the claim waited its 3 s, well past the 1 s idle timeout")
        }
    }

    @Test func failedTokenAttemptsAreBoundedPerAddress() async throws {
        let h = try Harness { $0.port = 0; $0.maxFailedAuthPerMinute = 3 }
        try await Self.live(h) { port in
            func status(_ token: String) async throws -> (Int, String?) {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/jobs")
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                _ = try await response.body.collect(upTo: 1 << 20)
                return (Int(response.status.code), response.headers.first(name: "Retry-After"))
            }
            let valid = try await status(h.requesterToken).0
            #expect(valid == 200, "a valid token never counts")
            for _ in 0..<3 {
                let failed = try await status("wu_not-a-token").0
                #expect(failed == 401)
            }
            let (blocked, retryAfter) = try await status("wu_not-a-token")
            #expect(blocked == 429)
            #expect(retryAfter.flatMap(Int.init).map { (1...60).contains($0) } == true, "\(retryAfter ?? "no Retry-After")")
            let waiting = try await status(h.requesterToken).0
            #expect(waiting == 429, "the address waits out its minute")
            h.clock.advance(seconds: 61)
            let again = try await status(h.requesterToken).0
            #expect(again == 200, "and is served again after it")
        }
    }
}
