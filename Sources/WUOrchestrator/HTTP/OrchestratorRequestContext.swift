public import Hummingbird
import NIOCore

/// The request context of every route: the core storage plus who is calling.
public struct OrchestratorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthMiddleware` on `/v1` routes.
    public var identity: Identity?
    /// On the runner protocol's hot routes: the bearer credential, checked inside the transaction.
    var credential: String?
    /// The peer, for `FailedAuthMiddleware`; nil on an in-process test channel. Kept as the socket
    /// address: its text is made only when the limiter needs it, not on every request.
    let peer: SocketAddress?
    var clientAddress: String? { peer?.ipAddress }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        credential = nil
        peer = source.channel.remoteAddress
    }

    /// The caller of a hot route: a deferred credential, or the identity the middleware found.
    func caller() throws -> Caller {
        if let identity { return .identity(identity) }
        if let credential { return .credential(credential) }
        throw APIError.unauthorized
    }

    /// JSON bodies; blob and bundle uploads stream with their own limits.
    public var maxUploadSize: Int { 4 << 20 }

    /// The caller, who must hold one of `roles`.
    func require(_ roles: Role...) throws -> Identity {
        guard let identity else { throw APIError.unauthorized }
        guard roles.contains(identity.role) else {
            throw APIError.forbidden("this route is for \(roles.map(\.rawValue).joined(separator: " or ")) tokens, not \(identity.role.rawValue)")
        }
        return identity
    }
}
