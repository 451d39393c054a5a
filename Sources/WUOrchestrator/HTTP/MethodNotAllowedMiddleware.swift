import HTTPTypes
import Hummingbird

/// Answers `405` with `Allow` when the path is one of the server's but the method is not (the router
/// alone says 404, which tells a client its URL is wrong when only its method is).
///
/// Added to the root router after every route: Hummingbird wraps only its not-found responder in a
/// middleware added then, so this runs only when no route answered.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = OrchestratorRequestContext

    struct Route {
        var path: RouterPath
        var methods: [HTTPRequest.Method]
    }

    let routes: [Route]

    init(_ routes: [Router<Context>.RouteDescription]) {
        var byPath: [String: Route] = [:]
        for route in routes { byPath[route.path.description, default: Route(path: route.path, methods: [])].methods.append(route.method) }
        self.routes = byPath.values.map { Route(path: $0.path, methods: $0.methods.sorted { $0.rawValue < $1.rawValue }) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let allowed = allowed(request.uri.path) else { throw error }
            let names = allowed.map(\.rawValue).joined(separator: ", ")
            throw APIError(
                .methodNotAllowed,
                "method-not-allowed",
                "\(request.method.rawValue.prefix(20)) is not a method of this path: it takes \(names)",
                allow: names
            )
        }
    }

    /// The methods of the route the router would pick for `path`, if any route has its shape.
    func allowed(_ path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let matching = routes.filter { route in
            route.path.components.count == segments.count && zip(route.path.components, segments).allSatisfy { $0 ~= $1 }
        }
        // As the router's trie does: a literal segment wins over a capture, from the left.
        return matching.max { a, b in
            for (index, segment) in segments.enumerated() {
                let (aLiteral, bLiteral) = (a.path.components[index] == segment, b.path.components[index] == segment)
                if aLiteral != bLiteral { return bLiteral }
            }
            return false
        }?.methods
    }
}
