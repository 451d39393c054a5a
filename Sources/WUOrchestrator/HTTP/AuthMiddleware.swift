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
