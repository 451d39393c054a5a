/// `POST /v1/session`: trade a token for an HttpOnly session cookie.
public struct SessionRequest: Codable, Sendable, Equatable {
    public var token: String

    public init(token: String) { self.token = token }

    enum CodingKeys: String, CodingKey, CaseIterable { case token }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        token = try c.decode(String.self, forKey: .token)
    }
}

/// Who the caller is: the answer to `POST /v1/session` and `GET /v1/session`.
public struct SessionResponse: Codable, Sendable, Equatable {
    public var name: String
    /// `requester`, `runner` or `admin`.
    public var role: String
    public var expiresAt: Int64?

    public init(name: String, role: String, expiresAt: Int64?) {
        self.name = name
        self.role = role
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case name, role
        case expiresAt = "expires_at"
    }
}

/// The body of every error: `{"error": {"code": "...", "message": "..."}}`.
public struct ErrorResponse: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var code: String
        public var message: String

        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    public var error: Detail

    public init(code: String, message: String) { self.error = Detail(code: code, message: message) }
}
