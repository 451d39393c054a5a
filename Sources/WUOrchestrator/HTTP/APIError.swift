import FoundationEssentials
public import Hummingbird
import WUProtocol

/// The one error type of the orchestrator's API: a status, a stable code and a message.
///
/// It renders itself as `{"error": {"code": "...", "message": "..."}}` (STYLE.md §4); the
/// scheduler throws it from inside transactions, so the status travels with the error.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    /// Sent as `Retry-After` (a 429 says when to come back).
    public let retryAfterSeconds: Int?
    /// Sent as `Allow` (a 405 says which methods the path takes).
    public let allow: String?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfterSeconds: Int? = nil, allow: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
        self.allow = allow
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = (try? JSONEncoder().encode(ErrorResponse(code: code, message: message))) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"wu\"" }
        if let retryAfterSeconds { headers[.retryAfter] = "\(retryAfterSeconds)" }
        if let allow { headers[.allow] = allow }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "invalid-request", message) }
    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not-found", "\(what) does not exist") }
    static func conflict(_ message: String) -> APIError { APIError(.conflict, "conflict", message) }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "forbidden", message) }
    static let unauthorized = APIError(.unauthorized, "unauthorized", "a valid bearer token or session cookie is required")
}
