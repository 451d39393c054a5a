import FoundationEssentials
import GRDB
import HTTPTypes
public import Hummingbird
public import Logging
import Prometheus
import ServiceLifecycle
import WUProtocol

/// The whole orchestrator: store, blobs, scheduler and HTTP routes, built from a configuration.
///
/// `wu-orchestrator serve` runs `application()`; tests call `router()` through HummingbirdTesting
/// and drive the scheduler and its injected clock directly.
public final class Orchestrator: Sendable {
    public let config: OrchestratorConfiguration
    public let store: OrchestratorStore
    public let blobs: BlobStore
    public let scheduler: Scheduler
    public let metrics: OrchestratorMetrics
    /// One per orchestrator, shared by every router it builds.
    let failedAuth: FailedAuthLimiter

    public init(
        config: OrchestratorConfiguration,
        clock: any OrchestratorClock = SystemClock(),
        metrics: OrchestratorMetrics = OrchestratorMetrics(),
        logger: Logger = Logger(label: "wu.orchestrator")
    ) throws {
        self.config = config
        store = try OrchestratorStore(dataDirectory: config.dataDirectory, synchronous: config.synchronous)
        blobs = try BlobStore(dataDirectory: config.dataDirectory)
        self.metrics = metrics
        failedAuth = FailedAuthLimiter(limit: config.maxFailedAuthPerMinute)
        scheduler = Scheduler(store: store, config: config, clock: clock, metrics: metrics, logger: logger)
    }

    /// The HTTP server plus the lease sweeper, as one service for a `ServiceGroup`.
    public func application(logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        Application(
            router: router(),
            server: try serverBuilder(),
            configuration: .init(
                address: .hostname(config.host, port: config.port), serverName: "wu-orchestrator",
                availableConnectionsDelegate: .maximum(config.maxConnections, logger: logger)
            ),
            services: [SweeperService(scheduler: scheduler, interval: .seconds(config.requeueSweepSeconds))],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    public func router() -> Router<OrchestratorRequestContext> {
        let router = Router(context: OrchestratorRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: FailedAuthMiddleware(limiter: failedAuth, clock: scheduler.clock))
        router.add(middleware: LatencyMiddleware(metrics: metrics))
        // Per-route request counts and durations through swift-metrics: `serve` bootstraps it onto this registry.
        router.add(middleware: MetricsMiddleware())
        // Cross-site request forgery: a cookie-borne change must come from the server's own pages.
        router.add(middleware: SameOriginMiddleware())
        let scheduler = self.scheduler
        let blobs = self.blobs
        let config = self.config
        let store = self.store
        let auth = AuthMiddleware(store: store, clock: scheduler.clock)

        router.get("/health") { _, _ in try json(["status": "ok"]) }
        router.get("/metrics") { _, _ in
            let counts = try await scheduler.copyCounts()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok,
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: scheduler.metrics.render(copyCounts: counts, writeTotals: store.batcher.totals)))
            )
        }
        router.get("/openapi.json") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        // The dashboard: `GET /`, its script and stylesheet, `/dashboard/view`, and sign-out (`DELETE /v1/session`).
        Dashboard.addRoutes(to: router, scheduler: scheduler, auth: auth)

        // Session: trade a token for a cookie. Outside the auth middleware: the token is in the body.
        router.post("/v1/session") { request, context in
            let body = try await decode(SessionRequest.self, request, context)
            let now = scheduler.clock.now()
            guard let identity = try await store.read({ db in try TokenAdmin.identify(db, token: body.token, now: now) }),
                body.token.hasPrefix(TokenAdmin.prefix)
            else { throw APIError.unauthorized }
            let secret = Hex.random(bytes: 32)
            let expires = now + Int64(config.sessionSeconds) * 1000
            try await store.pool.write { db in
                var session = SessionRecord(id: nil, hash: Hex.sha256(secret), tokenId: identity.tokenID, createdAt: now, expiresAt: expires)
                try session.insert(db)
            }
            var response = try json(SessionResponse(name: identity.name, role: identity.role.rawValue, expiresAt: expires))
            response.setCookie(self.sessionCookie(value: secret, maxAge: config.sessionSeconds))
            return response
        }

        let v1 = router.group("v1").add(middleware: auth)
        v1.get("session") { _, context in
            guard let identity = context.identity else { throw APIError.unauthorized }
            return try json(SessionResponse(name: identity.name, role: identity.role.rawValue, expiresAt: nil))
        }
        v1.get("events") { _, context in
            guard let identity = context.identity else { throw APIError.unauthorized }
            let stream = scheduler.events.subscribe(identity)
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            return Response(
                status: .ok,
                headers: headers,
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: ": connected as \(identity.role.rawValue)\n\n"))
                    try await withGracefulShutdownHandler {
                        for await (id, event) in stream {
                            try await writer.write(ByteBuffer(string: event.serverSentEvent(id: id)))
                        }
                    } onGracefulShutdown: {
                        scheduler.events.finishAll()
                    }
                    try await writer.finish(nil)
                }
            )
        }

        // Requester.
        v1.post("jobs") { request, context in
            let identity = try context.require(.requester, .admin)
            let priority =
                try request.uri.queryParameters["priority"].map { text -> Int in
                    guard let value = Int(String(text)) else { throw APIError.badRequest("priority must be an integer") }
                    return value
                } ?? 0
            let response = try await scheduler.submit(identity, body: request.body, priority: priority, blobs: blobs)
            return try json(response, status: .created)
        }
        v1.get("jobs") { _, context in try json(try await scheduler.jobs(try context.require(.requester, .admin))) }
        v1.get("jobs/:id") { _, context in
            try json(try await scheduler.job(try context.require(.requester, .admin), try requireID("id", "a job", context)))
        }
        v1.get("jobs/:id/units") { request, context in
            let identity = try context.require(.requester, .admin)
            let id = try requireID("id", "a job", context)
            let query = request.uri.queryParameters
            func integer(_ name: String) throws -> Int64? {
                try query[Substring(name)].map { text in
                    guard let value = Int64(String(text)), value >= 0 else {
                        throw APIError.badRequest("\(name) must be a whole number, got '\(text.prefix(40))'")
                    }
                    return value
                }
            }
            let units = Scheduler.UnitQuery(
                state: query["state"].map(String.init), limit: try integer("limit").map { Int(clamping: $0) }, after: try integer("after")
            )
            return try json(try await scheduler.units(identity, id, units))
        }
        v1.post("jobs/:id/:action") { _, context in
            let identity = try context.require(.requester, .admin)
            let id = try requireID("id", "a job", context)
            guard let action = Scheduler.JobAction(rawValue: try context.parameters.require("action")) else {
                throw APIError.notFound("action")
            }
            try await scheduler.control(identity, jobID: id, action)
            return try json(try await scheduler.job(identity, id))
        }
        v1.get("jobs/:id/results") { _, context in
            let identity = try context.require(.requester, .admin)
            return try await ResultsArchive.response(
                scheduler: scheduler,
                blobs: blobs,
                identity: identity,
                jobID: try requireID("id", "a job", context)
            )
        }

        // Runner protocol.
        v1.post("runners/register") { request, context in
            let identity = try context.require(.runner, .admin)
            return try json(try await scheduler.register(identity, try await decode(RegisterRequest.self, request, context)), status: .created)
        }
        // The hot routes authenticate inside their write transaction (see `AuthMiddleware.isDeferred`).
        v1.post("runners/claim") { request, context in
            let caller = try context.caller()
            return try json(try await scheduler.claim(caller, try await decodeDeferred(ClaimRequest.self, request, context, auth)))
        }
        v1.post("runners/heartbeat") { request, context in
            let caller = try context.caller()
            return try json(try await scheduler.heartbeat(caller, try await decodeDeferred(HeartbeatRequest.self, request, context, auth)))
        }
        v1.post("assignments/:id/complete") { request, context in
            let caller = try context.caller()
            let id = try await authenticatedFirst(request, context, auth) { try requireID("id", "an assignment", context) }
            let body = try await decodeDeferred(CompleteRequest.self, request, context, auth)
            return try json(try await scheduler.complete(caller, assignmentID: id, body, blobs: blobs))
        }
        v1.post("assignments/:id/fail") { request, context in
            let caller = try context.caller()
            let id = try await authenticatedFirst(request, context, auth) { try requireID("id", "an assignment", context) }
            let body = try await decodeDeferred(FailRequest.self, request, context, auth)
            return try json(try await scheduler.fail(caller, assignmentID: id, body))
        }

        // Blobs.
        v1.get("blobs/:digest") { _, context in
            guard let identity = context.identity else { throw APIError.unauthorized }
            let digest = try context.parameters.require("digest")
            guard WireID.isSHA256(digest) else { throw APIError(.badRequest, "invalid-id", "a blob is named by 64 lower-case hex digits") }
            guard blobs.exists(digest), try await scheduler.mayRead(identity, blob: digest) else {
                throw APIError.notFound("blob '\(digest.prefix(80))'")
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/octet-stream"
            headers[.eTag] = "\"\(digest)\""
            return Response(status: .ok, headers: headers, body: try await blobs.responseBody(digest, context: context))
        }
        v1.put("blobs/:digest") { request, context in
            let identity = try context.require(.runner, .admin)
            let digest = try context.parameters.require("digest")
            let size = try await blobs.put(digest, body: request.body, limit: config.maxBlobBytes)
            try await scheduler.recordUpload(identity, blob: digest)
            return try json(["sha256": digest, "size": String(size)], status: .created)
        }

        // Operator.
        v1.get("runners") { _, context in try json(try await scheduler.runners(try context.require(.admin))) }
        // The leaderboard is volunteers' public credit (as in BOINC): every role may read it.
        v1.get("leaderboard") { _, context in
            _ = try context.require(.admin, .runner, .requester)
            return try json(try await scheduler.leaderboard())
        }
        v1.get("stats") { _, context in
            _ = try context.require(.admin)
            return try json(try await scheduler.stats())
        }
        v1.post("ops/requeue-stale") { _, context in
            _ = try context.require(.admin)
            return try json(try await scheduler.sweep())
        }
        // Last: it wraps only the not-found answer (see the type).
        router.add(middleware: MethodNotAllowedMiddleware(router.routes))
        return router
    }
}

/// Records every request's latency.
struct LatencyMiddleware: RouterMiddleware {
    typealias Context = OrchestratorRequestContext
    let metrics: OrchestratorMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        defer { metrics.requestLatency.record(start.duration(to: .now)) }
        return try await next(request, context)
    }
}

/// Decodes a JSON body strictly: size-limited, unknown fields and wrong types are 400s.
func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: OrchestratorRequestContext) async throws -> T {
    let buffer: ByteBuffer
    do {
        buffer = try await request.body.collect(upTo: context.maxUploadSize)
    } catch {
        throw APIError(.contentTooLarge, "too-large", "the JSON body is larger than \(context.maxUploadSize) bytes")
    }
    do {
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    } catch let error as DecodingError {
        throw APIError(.badRequest, "invalid-json", describe(error))
    }
}

/// Decodes the body of a deferred-auth route (see `authenticatedFirst`).
func decodeDeferred<T: Decodable>(
    _ type: T.Type,
    _ request: Request,
    _ context: OrchestratorRequestContext,
    _ auth: AuthMiddleware
)
    async throws -> T
{
    try await authenticatedFirst(request, context, auth) { try await decode(type, request, context) }
}

/// Runs a step of a deferred-auth route that checks the request (its body, its path); when the step
/// fails, the caller is checked first so a wrong credential or role still answers 401/403 rather than 400.
func authenticatedFirst<T>(
    _ request: Request,
    _ context: OrchestratorRequestContext,
    _ auth: AuthMiddleware,
    _ step: () async throws -> T
) async throws -> T {
    do {
        return try await step()
    } catch {
        var checked = context
        if checked.identity == nil { checked.identity = try await auth.identify(request) }
        _ = try checked.require(.runner, .admin)
        throw error
    }
}

/// A path parameter naming an id: one of the wire's shape (`WireID`), else a 400, never a lookup.
func requireID(_ name: String, _ what: String, _ context: OrchestratorRequestContext) throws -> String {
    let value = try context.parameters.require(name)
    guard WireID.isValid(value) else {
        throw APIError(.badRequest, "invalid-id", "'\(value.prefix(80))' is not \(what) id: ids are \(WireID.rule)")
    }
    return value
}

/// A JSON response.
func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try JSONEncoder().encode(value)
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
