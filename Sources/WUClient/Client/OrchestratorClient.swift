public import AsyncHTTPClient
import FoundationEssentials
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
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
    public init(baseURL: String, token: String, http: HTTPClient = OrchestratorClient.http) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.token = token
        self.http = http
    }

    /// The client every `OrchestratorClient` uses unless given another: it follows no redirect (a
    /// redirect would carry the bearer token and the runner's requests to wherever the answer points;
    /// a 3xx is an error like any non-2xx), decompresses nothing (no bomb to inflate; blobs are
    /// checked byte for byte against their digest), and fails a connection that cannot be made
    /// (refused, or https to a plain server) at once instead of retrying it until the request's
    /// deadline: the runner retries with its own backoff, and `wu` says what failed.
    public static let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration(tls: nil))

    static func configuration(tls: TLSConfiguration?) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        configuration.tlsConfiguration = tls
        return configuration
    }

    /// Clients that trust a private CA, one per CA file, kept for the life of the process (an
    /// `HTTPClient` must be shut down before it is freed; these never are).
    private static let trustingCA = Mutex<[String: HTTPClient]>([:])

    /// The client for an orchestrator whose certificate a private CA signed (`--ca FILE`, PEM):
    /// that CA is the only root trusted, and the host name is still checked. With no file, `http`,
    /// which trusts the system's roots.
    public static func http(trustingCA file: String?) throws -> HTTPClient {
        guard let file else { return http }
        return try trustingCA.withLock { clients in
            if let client = clients[file] { return client }
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(file)
            } catch {
                throw WUError(.invalidArgument, "--ca \(file) is not a readable PEM certificate (\(error))")
            }
            guard !roots.isEmpty else { throw WUError(.invalidArgument, "--ca \(file) holds no certificate") }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(roots)
            tls.minimumTLSVersion = .tlsv12
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration(tls: tls))
            clients[file] = client
            return client
        }
    }

    /// The largest JSON answer read: a claim's assignments list at most their manifests' files, and a
    /// manifest is at most 16 MiB. Anything larger is a protocol error, read no further.
    static let maxJSONBytes = 16 << 20
    /// The largest error body read (only its first 500 characters are kept).
    static let maxErrorBytes = 64 << 10

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
        return try Self.decode(Response.self, bytes, "\(method) \(path)")
    }

    /// Decodes a JSON answer; one that breaks the wire's rules (WUProtocol checks every id, digest and
    /// number while decoding) is a protocol error.
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw ClientError.protocolError("the answer to \(what) breaks the protocol: \(error)")
        }
    }

    /// Runs a request and returns the body of a 2xx answer, at most `limit` bytes; anything else becomes
    /// a `ClientError`.
    func execute(_ request: HTTPClientRequest, timeout: TimeAmount, limit: Int = maxJSONBytes) async throws -> [UInt8] {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ClientError(status: nil, code: nil, message: "\(request.method) \(request.url): \(Self.describe(transport: error))")
        }
        let status = Int(response.status.code)
        let success = (200..<300).contains(status)
        let bytes = try await Self.collect(response, upTo: success ? limit : Self.maxErrorBytes, "\(request.method) \(request.url)")
        guard success else { throw Self.error(status: status, body: bytes) }
        return bytes
    }

    /// Reads a whole answer into memory, refusing (without reading on) one announced or found larger than `limit`.
    static func collect(_ response: HTTPClientResponse, upTo limit: Int, _ what: String) async throws -> [UInt8] {
        let tooLarge = ClientError.protocolError("the answer to \(what) is larger than \(ByteSize.format(Int64(limit))): is it a wu orchestrator?")
        if let announced = response.headers.first(name: "Content-Length").flatMap(Int.init), announced > limit { throw tooLarge }
        do {
            return Array(buffer: try await response.body.collect(upTo: limit))
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
    }

    /// A transport failure in plain words (NIO's own descriptions name types, not causes).
    static func describe(transport error: any Error) -> String {
        let text = "\(error)"
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused: is wu-orchestrator running there?" }
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
            return "the orchestrator's certificate is not trusted: give --ca FILE (the PEM of the CA that signed it) or WU_CA"
        }
        if text.contains("SSL") || text.contains("handshake") {
            return "the TLS handshake failed: the server may not speak https (use http:// for a plain server) or its certificate is not trusted"
        }
        if let error = error as? HTTPClientError, error == .connectTimeout || error == .deadlineExceeded { return "no answer in time" }
        return text
    }

    static func error(status: Int, body: [UInt8]) -> ClientError {
        if (300..<400).contains(status) { return .protocolError("the orchestrator answered \(status), a redirect; redirects are not followed") }
        struct Envelope: Decodable {
            struct Inner: Decodable {
                let code: String
                let message: String
            }
            let error: Inner
        }
        if let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body)) {
            return ClientError(status: status, code: String(envelope.error.code.prefix(100)), message: String(envelope.error.message.prefix(500)))
        }
        return ClientError(status: status, code: nil, message: String(decoding: body.prefix(500), as: UTF8.self))
    }

    // MARK: Blobs

    /// Downloads blob `digest` into `path` (via a temporary file), checking its SHA-256 on the way.
    ///
    /// - Throws: `ClientError` for HTTP problems; `WUError.tamperedFile` when the bytes do not match the digest.
    public func downloadBlob(_ digest: String, to path: String, maxBytes: Int64) async throws {
        try Self.checkDigest(digest)
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request(.GET, "/v1/blobs/\(digest)"), timeout: .minutes(10))
        } catch {
            throw ClientError(status: nil, code: nil, message: "GET /v1/blobs/\(digest): \(error)")
        }
        guard response.status == .ok else {
            throw Self.error(status: Int(response.status.code), body: try await Self.collect(response, upTo: Self.maxErrorBytes, "GET /v1/blobs/\(digest)"))
        }
        if let announced = response.headers.first(name: "Content-Length").flatMap(Int64.init), announced > maxBytes {
            throw WUError(.limitExceeded, "blob \(digest) is announced as \(announced) bytes, larger than the \(ByteSize.format(maxBytes)) expected")
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
        try Self.checkDigest(digest)
        var request = request(.PUT, "/v1/blobs/\(digest)")
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        let (stream, length) = try FileChunks.open(path)
        request.body = .stream(stream, length: .known(length))
        _ = try await execute(request, timeout: .minutes(10))
    }
}

extension OrchestratorClient {
    /// The path segment for an id: only an id of the wire's shape is ever pasted into a URL.
    static func segment(_ id: String, _ what: String) throws -> String {
        guard WireID.isValid(id) else { throw ClientError.protocolError("'\(id.prefix(80))' is not \(what) id (\(WireID.rule))") }
        return id
    }

    static func checkDigest(_ digest: String) throws {
        guard WireID.isSHA256(digest) else { throw ClientError.protocolError("'\(digest.prefix(80))' is not a SHA-256 digest") }
    }
}
