import HTTPTypes
import Hummingbird

/// Refuses a state-changing request that a browser sent from another origin (cross-site request forgery).
///
/// The session cookie is `SameSite=Strict`, but a site is not an origin: a page on another port of the
/// same host, or on a sibling subdomain, is the same site and its requests carry the cookie. So every
/// request that is not `GET`, `HEAD` or `OPTIONS` and has no `Authorization` header must name this
/// server as its origin: `Origin`, or failing that `Referer`, must have the authority the request was
/// sent to (`Host`). A request with neither header is refused when it carries the session cookie (a
/// browser always sends `Origin` on a `fetch` POST, PUT or DELETE). Bearer-token callers are API clients:
/// a browser never adds that header to a cross-origin request by itself, so they are not checked.
struct SameOriginMiddleware: RouterMiddleware {
    typealias Context = OrchestratorRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let refusal = Self.refusal(request) { throw refusal }
        return try await next(request, context)
    }

    /// Why `request` is refused, or nil when it may go on.
    static func refusal(_ request: Request) -> APIError? {
        switch request.method {
        case .get, .head, .options: return nil
        default: break
        }
        guard request.headers[.authorization] == nil else { return nil }
        guard let claimed = request.headers[.origin] ?? request.headers[.referer] else {
            guard request.cookies[AuthMiddleware.cookieName] != nil else { return nil }
            return refused("the request names no Origin or Referer")
        }
        let host = request.head.authority ?? request.headers[Self.host]
        guard let host, let origin = Origin(claimed), origin.authority == Origin.normalize(host, scheme: origin.scheme) else {
            return refused("the request comes from '\(claimed.prefix(100))'")
        }
        return nil
    }

    /// HTTP/1's `Host`, when the server did not turn it into the request's authority.
    static let host = HTTPField.Name("Host")!

    static func refused(_ why: String) -> APIError {
        APIError(
            .forbidden,
            "cross-origin",
            "refused: \(why), and a request that changes something with the session cookie must come from this "
                + "server's own pages (API clients send Authorization: Bearer)"
        )
    }

    /// The scheme and authority of an `Origin` value or a `Referer` URL, the scheme's default port left out.
    struct Origin: Equatable {
        var scheme: String
        var authority: String

        init?(_ text: String) {
            guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else { return nil }
            scheme = text[..<colon].lowercased()
            let rest = text[text.index(colon, offsetBy: 3)...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            guard !authority.isEmpty, !authority.contains("@") else { return nil }
            self.authority = Self.normalize(String(authority), scheme: scheme)
        }

        /// `host:80` for http and `host:443` for https are `host`; case does not matter in a host name.
        static func normalize(_ authority: String, scheme: String) -> String {
            let lowered = authority.lowercased()
            let defaultPort = scheme == "https" ? ":443" : scheme == "http" ? ":80" : nil
            if let defaultPort, lowered.hasSuffix(defaultPort) { return String(lowered.dropLast(defaultPort.count)) }
            return lowered
        }
    }
}
