import FoundationEssentials
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
public import WUProtocol

/// What a requester and an operator ask of the orchestrator.
extension OrchestratorClient {
    /// Uploads a `.wu` bundle as a new job (`POST /v1/jobs`).
    public func submit(bundle path: String, priority: Int?) async throws -> SubmitJobResponse {
        var request = request(.POST, "/v1/jobs" + (priority.map { "?priority=\($0)" } ?? ""))
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        let (stream, length) = try FileChunks.open(path)
        request.body = .stream(stream, length: .known(length))
        let bytes = try await execute(request, timeout: .minutes(10))
        return try Self.decode(SubmitJobResponse.self, bytes, "POST /v1/jobs")
    }

    public func jobs() async throws -> JobList { try await send(.GET, "/v1/jobs") }

    public func job(_ id: String) async throws -> JobView { try await send(.GET, "/v1/jobs/\(try Self.segment(id, "a job"))") }

    public func units(ofJob id: String) async throws -> UnitList { try await send(.GET, "/v1/jobs/\(try Self.segment(id, "a job"))/units") }

    /// One page of a job's units: those in `state` (as the view shows it) when given, after the
    /// previous page's `next`.
    public func units(ofJob id: String, state: String?, limit: Int, after: String? = nil) async throws -> UnitList {
        var query = "limit=\(limit)"
        if let state { query += "&state=\(state)" }
        if let after { query += "&after=\(after)" }
        return try await send(.GET, "/v1/jobs/\(id)/units?" + query)
    }

    /// Hands every unit of a job (in `state` when given) to `body`, a page at a time.
    public func forEachUnitPage(ofJob id: String, state: String? = nil, pageSize: Int = 1000, _ body: ([UnitView]) async throws -> Void)
        async throws
    {
        var after: String?
        repeat {
            let page = try await units(ofJob: id, state: state, limit: pageSize, after: after)
            if !page.units.isEmpty { try await body(page.units) }
            after = page.next
        } while after != nil
    }

    /// `cancel`, `pause` or `resume`.
    public func control(job id: String, action: String) async throws -> JobView {
        try await send(.POST, "/v1/jobs/\(try Self.segment(id, "a job"))/\(action)")
    }

    public func runners() async throws -> RunnerList { try await send(.GET, "/v1/runners") }

    public func leaderboard() async throws -> Leaderboard { try await send(.GET, "/v1/leaderboard") }

    /// Streams `GET /v1/jobs/{id}/results` (a tar in the output layout) into `path`.
    public func downloadResults(job id: String, to path: String) async throws {
        let route = "/v1/jobs/\(try Self.segment(id, "a job"))/results"
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request(.GET, route), timeout: .minutes(30))
        } catch {
            throw ClientError(status: nil, code: nil, message: "GET \(route): \(error)")
        }
        guard response.status == .ok else {
            throw Self.error(status: Int(response.status.code), body: try await Self.collect(response, upTo: Self.maxErrorBytes, "GET \(route)"))
        }
        try await ResponseFile.write(response.body, to: path)
    }
}
