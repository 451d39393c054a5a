public import AsyncHTTPClient
import FoundationEssentials
import Logging
import NIOCore
import NIOHTTP1
import WUProtocol
import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP client for everything that talks to `wu-orchestrator`: the runner and the `wu` CLI.
///
/// JSON in and out with the wire's snake_case types from WUProtocol; blobs stream to and from files.
/// Every failure is a `ClientError` that carries the server's own message.
public struct OrchestratorClient: Sendable {
    public let baseURL: String
    public let token: String
    let http: HTTPClient

    /// - Parameters:
    ///   - baseURL: e.g. `http://127.0.0.1:8080` (a trailing `/` is dropped).
    ///   - token: a bearer token from `wu-orchestrator token create`.
    public init(baseURL: String, token: String, http: HTTPClient = OrchestratorClient.sharedHTTP) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.token = token
        self.http = http
    }

    /// The process's HTTP client: `HTTPClient.shared`'s settings, except that a connection that cannot
    /// be made (refused, or https to a plain server) fails its request at once instead of being retried
    /// until the request's deadline; the runner retries with its own backoff, and `wu` says what failed.
    public static let sharedHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    func request(_ method: HTTPMethod, _ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "User-Agent", value: "wu/\(WUVersion.current)")
        return request
    }

    /// Sends a JSON body (or none) and decodes a JSON answer.
    func send<Response: Decodable>(
        _ method: HTTPMethod, _ path: String, body: (some Encodable)? = nil as String?, timeout: TimeAmount = .seconds(30),
        as type: Response.Type = Response.self
    ) async throws -> Response {
        var request = request(method, path)
        if let body {
            let data = try Self.encoder.encode(body)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        let bytes = try await execute(request, timeout: timeout)
        do {
            return try JSONDecoder().decode(Response.self, from: Data(bytes))
        } catch {
            throw ClientError(status: 200, code: nil, message: "cannot read the answer to \(method) \(path): \(error)")
        }
    }

    /// Runs a request and returns the body of a 2xx answer; anything else becomes a `ClientError`.
    func execute(_ request: HTTPClientRequest, timeout: TimeAmount, limit: Int = 64 << 20) async throws -> [UInt8] {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ClientError(status: nil, code: nil, message: "\(request.method) \(request.url): \(Self.describe(transport: error))")
        }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw ClientError(
                status: Int(response.status.code), code: nil,
                message: "the answer to \(request.method) \(request.url) is larger than \(ByteSize.format(Int64(limit))); is \(baseURL) a wu orchestrator?"
            )
        }
        let bytes = Array(buffer: body)
        guard (200..<300).contains(Int(response.status.code)) else { throw Self.error(status: Int(response.status.code), body: bytes) }
        return bytes
    }

    /// A transport failure in plain words (NIO's own descriptions name types, not causes).
    static func describe(transport error: any Error) -> String {
        let text = "\(error)"
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused: is wu-orchestrator running there?" }
        if text.contains("SSL") || text.contains("handshake") {
            return "the TLS handshake failed: the server may not speak https (use http:// for a plain server) or its certificate is not trusted"
        }
        if let error = error as? HTTPClientError, error == .connectTimeout || error == .deadlineExceeded { return "no answer in time" }
        return text
    }

    static func error(status: Int, body: [UInt8]) -> ClientError {
        struct Envelope: Decodable {
            struct Inner: Decodable {
                let code: String
                let message: String
            }
            let error: Inner
        }
        if let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body)) {
            return ClientError(status: status, code: envelope.error.code, message: envelope.error.message)
        }
        return ClientError(status: status, code: nil, message: String(decoding: body.prefix(500), as: UTF8.self))
    }

    // MARK: Blobs

    /// Downloads blob `digest` into `path` (via a temporary file), checking its SHA-256 on the way.
    ///
    /// - Throws: `ClientError` for HTTP problems; `WUError.tamperedFile` when the bytes do not match the digest.
    public func downloadBlob(_ digest: String, to path: String, maxBytes: Int64) async throws {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request(.GET, "/v1/blobs/\(digest)"), timeout: .minutes(10))
        } catch {
            throw ClientError(status: nil, code: nil, message: "GET /v1/blobs/\(digest): \(error)")
        }
        guard response.status == .ok else {
            throw Self.error(status: Int(response.status.code), body: Array(buffer: try await response.body.collect(upTo: 1 << 20)))
        }
        let temporary = path + ".part-\(UInt32.random(in: 0...UInt32.max))"
        // 0644: a payload file of that mode is then hard-linked into a unit's /code or /in, not copied.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WUError(.io, "cannot write \(temporary)", cause: SystemCallError("open", path: temporary, errno: errno)) }
        var hasher = StreamingDigest()
        var total: Int64 = 0
        do {
            defer { close(fd) }
            for try await chunk in response.body {
                total += Int64(chunk.readableBytes)
                guard total <= maxBytes else {
                    throw WUError(.limitExceeded, "blob \(digest) is larger than the \(ByteSize.format(maxBytes)) expected")
                }
                try chunk.withUnsafeReadableBytes { bytes in
                    hasher.update(bytes)
                    try FileIO.writeAll(fd, bytes, path: temporary)
                }
            }
            let actual = hasher.finalize()
            guard actual == digest else {
                throw WUError(.tamperedFile, "blob \(digest) arrived with SHA-256 \(actual): the orchestrator or the network changed it")
            }
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw WUError(.io, "cannot move \(temporary) into place", cause: SystemCallError("rename", path: path, errno: errno))
        }
    }

    /// Uploads a file as blob `digest` (`PUT /v1/blobs/{digest}`); the server checks the digest.
    public func uploadBlob(_ digest: String, from path: String) async throws {
        var request = request(.PUT, "/v1/blobs/\(digest)")
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        let (stream, length) = try FileChunks.open(path)
        request.body = .stream(stream, length: .known(length))
        _ = try await execute(request, timeout: .minutes(10))
    }
}
