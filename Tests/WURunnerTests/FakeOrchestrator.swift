import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// An orchestrator on loopback that answers every request as a test scripts it and records each one:
/// the hostile peer of `HostileOrchestratorTests`.
final class FakeOrchestrator: Sendable {
    struct Call: Sendable {
        var method: String
        var path: String
        var body: String
    }

    struct Answer: Sendable {
        var status: HTTPResponse.Status = .ok
        var headers: HTTPFields = [.contentType: "application/json"]
        var body: ByteBuffer
        /// How long to wait before answering (a long poll with nothing to hand out).
        var delay: Duration = .zero

        static func json(_ text: String, _ status: HTTPResponse.Status = .ok) -> Answer { Answer(status: status, body: ByteBuffer(string: text)) }
        static let notFound = json(#"{"error":{"code":"not-found","message":"no such thing"}}"#, .notFound)
    }

    /// The answer to a call, given how many calls to the same path came before it.
    typealias Script = @Sendable (_ call: Call, _ previous: Int) -> Answer

    private let script: Script
    private let recorded = Mutex<[Call]>([])

    init(_ script: @escaping Script) { self.script = script }

    var calls: [Call] { recorded.withLock { $0 } }

    func count(_ path: String) -> Int { calls.filter { $0.path == path }.count }

    func respond(to request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 << 20)
        let call = Call(method: request.method.rawValue, path: request.uri.path, body: String(buffer: body))
        let previous = recorded.withLock { calls in
            defer { calls.append(call) }
            return calls.filter { $0.path == call.path }.count
        }
        let answer = script(call, previous)
        try await Task.sleep(for: answer.delay)
        return Response(status: answer.status, headers: answer.headers, body: .init(byteBuffer: answer.body))
    }

    /// Serves on `127.0.0.1` and runs `body` with the base URL.
    func serving<T: Sendable>(_ body: @Sendable @escaping (String) async throws -> T) async throws -> T {
        let responder = CallbackResponder { (request: Request, _: BasicRequestContext) in try await self.respond(to: request) }
        let app = Application(responder: responder, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let result = Mutex<T?>(nil)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let value = try await body("http://127.0.0.1:\(port)")
            result.withLock { $0 = value }
        }
        return try #require(result.withLock { $0 })
    }
}
