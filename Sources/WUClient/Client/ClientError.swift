/// What went wrong talking to the orchestrator: the HTTP status and the server's own error, or the transport.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status, or nil when no response arrived (connection refused, timeout, reset).
    public let status: Int?
    /// The server's error code (`not-found`, `forbidden`, …) when it sent one.
    public let code: String?
    public let message: String

    public init(status: Int?, code: String?, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// The code of an answer (or a value about to be sent) that breaks the wire's rules: a malformed id,
    /// digest or number, an answer too large, a redirect.
    public static let protocolCode = "protocol"

    static func protocolError(_ message: String) -> ClientError { ClientError(status: nil, code: protocolCode, message: message) }

    public var isProtocolError: Bool { status == nil && code == Self.protocolCode }

    /// Worth retrying: no response, a 5xx, 429, or 408.
    public var isTransient: Bool {
        if isProtocolError { return false }
        guard let status else { return true }
        return status >= 500 || status == 429 || status == 408
    }

    public var description: String {
        if isProtocolError { return "protocol error: \(message)" }
        if let status { return "orchestrator answered \(status)\(code.map { " (\($0))" } ?? ""): \(message)" }
        return "cannot reach the orchestrator: \(message)"
    }
}
