import GRDB
import HTTPTypes
import Hummingbird
import Logging

/// Authenticates `/v1` requests: `Authorization: Bearer wu_…` or the `wu_session` cookie.
///
/// Looks the credential up in the store on every request, so a token revoked from the CLI stops
/// working at once. Missing or unknown credentials get 401.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = OrchestratorRequestContext
    static let cookieName = "wu_session"

    let store: OrchestratorStore
    let clock: any OrchestratorClock

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if request.method == .post, Self.isDeferred(request.uri.path) {
            context.credential = try credential(request)
        } else {
            context.identity = try await identify(request)
        }
        return try await next(request, context)
    }

    /// Runner-protocol routes whose handler authenticates inside its write transaction.
    static func isDeferred(_ path: String) -> Bool {
        path == "/v1/runners/claim" || path == "/v1/runners/heartbeat"
            || (path.hasPrefix("/v1/assignments/") && (path.hasSuffix("/complete") || path.hasSuffix("/fail")))
    }

    func identify(_ request: Request) async throws -> Identity {
        let credential = try credential(request)
        let now = clock.now()
        guard let identity = try await store.read({ db in try TokenAdmin.identify(db, token: credential, now: now) }) else {
            throw APIError.unauthorized
        }
        return identity
    }

    func credential(_ request: Request) throws -> String {
        var credential: String?
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIError.unauthorized }
            credential = String(parts[1]).trimmingSpaces()
        } else if let cookie = request.cookies[Self.cookieName] {
            credential = cookie.value
        }
        guard let credential, !credential.isEmpty, credential.utf8.count <= 200 else { throw APIError.unauthorized }
        return credential
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

/// Turns every error into the API's JSON shape; anything unexpected becomes a logged 500.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = OrchestratorRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            let code =
                switch error.status {
                case .notFound: "not-found"
                case .methodNotAllowed: "method-not-allowed"
                case .contentTooLarge: "too-large"
                case .unauthorized: "unauthorized"
                default: error.status.code < 500 ? "invalid-request" : "internal"
                }
            throw APIError(error.status, code, error.body ?? error.status.reasonPhrase)
        } catch let error as DecodingError {
            throw APIError(.badRequest, "invalid-json", describe(error))
        } catch is CancellationError {
            throw APIError(.serviceUnavailable, "shutting-down", "the request was cancelled")
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(error)"])
            throw APIError(.internalServerError, "internal", "an internal error occurred")
        }
    }
}

/// A short description of a decoding error for the API's answer.
func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "the body" : "'\(p)'"
    }
    switch error {
    case .typeMismatch(let type, let context): return "\(path(context)) has the wrong type (expected \(type))"
    case .valueNotFound(_, let context): return "\(path(context)) must not be null"
    case .keyNotFound(let key, let context):
        let prefix = context.codingPath.isEmpty ? "" : path(context) + "."
        return "missing field '\(prefix)\(key.stringValue)'"
    case .dataCorrupted(let context):
        if context.codingPath.isEmpty { return "the body is not valid JSON" }
        return "\(path(context)): \(context.debugDescription)"
    @unknown default: return "the body could not be decoded"
    }
}
