import NIOCore
import NIOHTTP1
public import WUProtocol

/// The runner protocol of DESIGN.md.
extension OrchestratorClient {
    public func register(_ body: RegisterRequest) async throws -> RegisterResponse {
        try await send(.POST, "/v1/runners/register", body: body)
    }

    /// Long-polls for work; the HTTP timeout leaves room for the server's `wait`.
    public func claim(_ body: ClaimRequest) async throws -> ClaimResponse {
        try await send(.POST, "/v1/runners/claim", body: body, timeout: .seconds(Int64(body.wait ?? 20) + 15))
    }

    public func heartbeat(_ body: HeartbeatRequest) async throws -> HeartbeatResponse {
        try await send(.POST, "/v1/runners/heartbeat", body: body)
    }

    public func complete(assignment id: String, _ body: CompleteRequest) async throws -> AssignmentAck {
        try await send(.POST, "/v1/assignments/\(try Self.segment(id, "an assignment"))/complete", body: body)
    }

    public func fail(assignment id: String, _ body: FailRequest) async throws -> AssignmentAck {
        try await send(.POST, "/v1/assignments/\(try Self.segment(id, "an assignment"))/fail", body: body)
    }
}
