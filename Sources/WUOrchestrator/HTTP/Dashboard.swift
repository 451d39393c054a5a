import GRDB
import HTTPTypes
import Hummingbird

/// The operator dashboard's routes.
///
/// - `GET /`: the shell (no data before a sign-in), with `/dashboard/app.js` and `/dashboard/app.css`.
/// - `GET /dashboard/view[?job=ID][&state=S]`: the signed-in caller's view as an HTML fragment, rendered on the
///   server with every user-supplied string escaped (`DashboardView`); the script swaps it in.
/// - `DELETE /v1/session`: sign-out; forgets the session and expires the cookie.
///
/// The CSP allows no inline script or style, so even a string that escaped escaping could not run.
enum Dashboard {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func addRoutes(to router: Router<OrchestratorRequestContext>, scheduler: Scheduler, auth: AuthMiddleware) {
        let store = scheduler.store
        router.get("/") { _, _ in response(DashboardAssets.shell, type: "text/html; charset=utf-8") }
        router.get("/dashboard/app.js") { _, _ in response(DashboardAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/dashboard/app.css") { _, _ in response(DashboardAssets.stylesheet, type: "text/css; charset=utf-8") }

        // Outside the auth middleware: signing out must work with an expired or unknown cookie too.
        router.delete("/v1/session") { request, _ in
            if let cookie = request.cookies[AuthMiddleware.cookieName], !cookie.value.isEmpty, cookie.value.utf8.count <= 200 {
                let hash = Hex.sha256(cookie.value)
                try await store.write { db in try db.execute(sql: "DELETE FROM session WHERE hash = ?", arguments: [hash]) }
            }
            var response = Response(status: .noContent)
            response.headers[.cacheControl] = "no-store"
            response.setCookie(Cookie(name: AuthMiddleware.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict))
            return response
        }

        let views = router.group("dashboard").add(middleware: auth)
        views.get("view") { request, context in
            guard let identity = context.identity else { throw APIError.unauthorized }
            let job = request.uri.queryParameters["job"].map { String($0) }
            let state = request.uri.queryParameters["state"].map { String($0) }
            let data = try await DashboardData.load(scheduler, identity, selectedJob: job, state: state)
            return response(DashboardView.render(data).rendered, type: "text/html; charset=utf-8")
        }
    }

    static func response(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.cacheControl] = "no-store"
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
