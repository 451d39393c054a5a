/// What a token may do.
public enum Role: String, Sendable, CaseIterable, Codable {
    /// Submits jobs and sees only its own.
    case requester
    /// Registers runners and speaks the runner protocol.
    case runner
    /// Everything, including the operator routes.
    case admin
}

/// The authenticated caller of a request.
public struct Identity: Sendable, Equatable {
    public let tokenID: Int64
    public let name: String
    public let role: Role
}

/// Who is calling, as far as the HTTP layer checked: an identity already looked up, or a bearer
/// credential the scheduler looks up inside its write transaction (one database hop instead of two
/// on the runner protocol's hot routes; a revoked token still fails at once).
public enum Caller: Sendable {
    case identity(Identity)
    case credential(String)
}
