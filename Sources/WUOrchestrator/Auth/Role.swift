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
