import FoundationEssentials
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

/// The dashboard's routes through the router, without a port: the shell, the session cookie, the
/// rendered view per role, and the escaping of everything a user can name.
@Suite struct DashboardRouterTests {
    static let hostile = #"<img src=x onerror="document.title='pwned'">&'"#
    static let hostileEscaped = "&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;&amp;&#39;"

    func withClient(_ h: Harness, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: h.orchestrator.router())
        try await app.test(.router) { client in try await body(client) }
    }

    /// Signs in with `token` and returns the `Cookie` header value of the session.
    func signIn(_ client: some TestClientProtocol, _ token: String) async throws -> String {
        let response = try await client.executeRequest(
            uri: "/v1/session",
            method: .post,
            headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"token":"\#(token)"}"#)
        )
        #expect(response.status == .ok)
        let setCookie = try #require(response.headers[.setCookie])
        return String(try #require(setCookie.split(separator: ";").first))
    }

    func view(_ client: some TestClientProtocol, _ cookie: String, job: String? = nil) async throws -> (HTTPResponse.Status, String) {
        let response = try await client.executeRequest(
            uri: "/dashboard/view" + (job.map { "?job=" + $0 } ?? ""),
            method: .get,
            headers: [.cookie: cookie],
            body: nil
        )
        return (response.status, String(buffer: response.body))
    }

    @Test func shellAndAssetsCarryNoDataAndAStrictPolicy() async throws {
        let h = try Harness()
        try await h.makeJob(name: "secret-job", units: 1)
        try await withClient(h) { client in
            for (path, type) in [("/", "text/html"), ("/dashboard/app.js", "text/javascript"), ("/dashboard/app.css", "text/css")] {
                let response = try await client.executeRequest(uri: path, method: .get, headers: [:], body: nil)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                let policy = try #require(response.headers[.contentSecurityPolicy])
                #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "\(policy)")
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                let body = String(buffer: response.body)
                #expect(!body.contains("secret-job") && !body.contains("alice"))
                #expect(!body.contains("cdn") && !body.contains("https://"), "\(path) loads nothing from elsewhere")
            }
            let shell = String(buffer: try await client.executeRequest(uri: "/", method: .get, headers: [:], body: nil).body)
            #expect(shell.contains("<script src=\"/dashboard/app.js\""))
            #expect(!shell.contains("<script>"), "no inline script")
            let script = String(buffer: try await client.executeRequest(uri: "/dashboard/app.js", method: .get, headers: [:], body: nil).body)
            #expect(script.contains("new EventSource('/v1/events')"))
            #expect(!script.contains("localStorage") && !script.contains("sessionStorage"), "the token never sits in page storage")
            #expect(!script.contains("setInterval"), "no polling")
        }
    }

    @Test func sessionCookieSignsInAndSignOutClearsIt() async throws {
        let h = try Harness()
        try await withClient(h) { client in
            let anonymous = try await client.executeRequest(uri: "/dashboard/view", method: .get, headers: [:], body: nil)
            #expect(anonymous.status == .unauthorized)

            let response = try await client.executeRequest(
                uri: "/v1/session",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"token":"\#(h.adminToken)"}"#)
            )
            let setCookie = try #require(response.headers[.setCookie])
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"), "\(setCookie)")
            #expect(!setCookie.contains(h.adminToken), "the cookie is a session, not the token")
            let cookie = String(try #require(setCookie.split(separator: ";").first))

            let (status, html) = try await view(client, cookie)
            #expect(status == .ok)
            #expect(html.contains("id=\"jobs\"") && html.contains("id=\"runners\"") && html.contains("id=\"leaderboard\""))

            let out = try await client.executeRequest(
                uri: "/v1/session",
                method: .delete,
                headers: [.cookie: cookie, .origin: Self.ownOrigin],
                body: nil
            )
            #expect(out.status == .noContent)
            let cleared = try #require(out.headers[.setCookie])
            #expect(cleared.hasPrefix("wu_session=;") && cleared.contains("Max-Age=0"), "\(cleared)")
            // The old cookie is dead on the server too, not only forgotten by the browser.
            #expect(try await view(client, cookie).0 == .unauthorized)
            let who = try await client.executeRequest(uri: "/v1/session", method: .get, headers: [.cookie: cookie], body: nil)
            #expect(who.status == .unauthorized)
            // Signing out without a session still clears the cookie.
            let again = try await client.executeRequest(uri: "/v1/session", method: .delete, headers: [:], body: nil)
            #expect(again.status == .noContent)
            #expect(again.headers[.setCookie]?.contains("Max-Age=0") == true)
        }
    }

    @Test func viewShowsJobsProgressRunnersLeaderboardAndFailures() async throws {
        let h = try Harness()
        let job = try await h.makeJob(name: "wordcount", units: 4)
        let runnerID = try await h.register("volunteer-1")
        let assignments = try await h.claim(runnerID, max: 3)
        #expect(assignments.count == 3)
        try await h.complete(assignments[0], by: runnerID, output: "a")
        try await h.fail(assignments[1], by: runnerID, reason: "exit-code", stderr: "Traceback: boom at line 3")
        try await withClient(h) { client in
            let cookie = try await signIn(client, h.adminToken)
            let (status, html) = try await view(client, cookie)
            #expect(status == .ok)
            #expect(html.contains("data-job-id=\"\(job)\" data-state=\"running\" data-progress=\"25\""), "\(html)")
            #expect(html.contains("1 valid, 1 running, 0 failed, 0 cancelled, 2 queued"), "one valid, one leased, two queued (one requeued after a failure)")
            #expect(html.contains("<td class=\"name\">volunteer-1</td><td><span class=\"badge active\">active</span>"))
            #expect(html.contains("<a href=\"#job=\(job)\">\(job)/u2</a>"), "what the runner runs now")
            #expect(html.contains("data-render-again-in-ms=\"45001\""), "rendered again when the runner would turn stale")
            #expect(html.contains("id=\"leaderboard\""))
            #expect(html.contains("Traceback: boom at line 3") && html.contains("exit-code"))
            #expect(html.contains("id=\"throughput\""))
            #expect(html.contains("1 copies completed, 1 failed"))

            // A click on the job: its units, copies and usage.
            let (detailStatus, detail) = try await view(client, cookie, job: job)
            #expect(detailStatus == .ok)
            #expect(detail.contains("id=\"job-detail\" data-job-id=\"\(job)\""))
            #expect(detail.contains("data-unit=\"u0\" data-copy-state=\"valid\""))
            #expect(detail.contains("1.5 s"), "the valid copy's wall time")
            // The denied syscalls, as the runner reported them (escaped: a runner is not trusted).
            #expect(detail.contains("<td class=\"denied\">mount×3 &lt;b&gt;bpf&lt;/b&gt;</td>"), "\(detail)")
            // Each copy's output digest, shortened, whole on hover: copies of a unit agree when these are equal.
            let units = try await h.scheduler.units(h.admin, job, Scheduler.UnitQuery(limit: 10)).units
            let digest = try #require(units.flatMap(\.copies).compactMap(\.outputDigest).first)
            #expect(detail.contains("<code class=\"digest\" title=\"\(digest)\">\(digest.prefix(12))</code>"), "\(detail)")
            // The runner's disk: what it offers units, explained on the page.
            #expect(html.contains("id=\"disk-note\"") && html.contains("three quarters of its --disk"))
        }
    }

    /// The jobs table filters by state, cancelled is not painted as failed, and a job's view says why its units wait.
    @Test func filterByStateCancelledColourAndWhyUnitsWait() async throws {
        let h = try Harness()
        let waiting = try await h.makeJob(name: "waits", units: 3)
        let cancelled = try await h.makeJob(name: "stopped", units: 2)
        try await h.scheduler.control(h.admin, jobID: cancelled, .cancel)
        try await withClient(h) { client in
            let cookie = try await signIn(client, h.adminToken)
            let all = try await client.executeRequest(uri: "/dashboard/view", method: .get, headers: [.cookie: cookie], body: nil)
            let html = String(buffer: all.body)
            #expect(html.contains("data-job-id=\"\(waiting)\"") && html.contains("data-job-id=\"\(cancelled)\""))
            #expect(html.contains("0 failed, 2 cancelled, 0 queued"), "cancelled units are their own bar segment: \(html)")
            #expect(html.contains("<rect class=\"cancelled\""))
            #expect(html.contains("id=\"job-filter\"") && html.contains("href=\"#state=cancelled\""))

            let filtered = try await client.executeRequest(uri: "/dashboard/view?state=cancelled", method: .get, headers: [.cookie: cookie], body: nil)
            let only = String(buffer: filtered.body)
            #expect(only.contains("data-job-id=\"\(cancelled)\"") && !only.contains("data-job-id=\"\(waiting)\""), "\(only)")
            #expect(only.contains("<a href=\"#state=cancelled&amp;job=\(cancelled)\">"), "a click keeps the filter: \(only)")
            #expect(only.contains("class=\"filter current\" aria-current=\"true\" data-filter=\"cancelled\""))

            let (_, detail) = try await view(client, cookie, job: waiting)
            #expect(detail.contains("<ul id=\"waiting\" class=\"waiting\"><li data-code=\"no-runner\">3 units wait: no runner registered</li></ul>"), "\(detail)")
            #expect(detail.contains("<td>no runner registered</td></tr>"), "each waiting unit says why: \(detail)")
            let css = try await client.executeRequest(uri: "/dashboard/app.css", method: .get, headers: [:], body: nil)
            #expect(String(buffer: css.body).contains(".badge.cancelled { background: #e6e7ea"))
        }
    }

    /// The origin of the in-process test server (HummingbirdTesting sends `Host: localhost`).
    static let ownOrigin = "http://localhost"

    func post(_ client: some TestClientProtocol, _ uri: String, _ headers: HTTPFields) async throws -> TestResponse {
        try await client.executeRequest(uri: uri, method: .post, headers: headers, body: nil)
    }

    func state(_ h: Harness, _ job: String) async throws -> String {
        try await h.scheduler.job(h.admin, job).state
    }

    /// The owner sees pause and cancel on a running job's view and they work from the page's origin;
    /// another requester sees no button and is refused.
    @Test func ownerControlsTheirJobFromTheViewOthersCannot() async throws {
        let h = try Harness()
        let job = try await h.makeJob(name: "controlled", units: 2)
        try await withClient(h) { client in
            let cookie = try await signIn(client, h.requesterToken)
            let (_, detail) = try await view(client, cookie, job: job)
            #expect(detail.contains("data-action=\"pause\" data-job-id=\"\(job)\"") && detail.contains("data-action=\"cancel\""), "\(detail)")
            #expect(!detail.contains("data-action=\"resume\""), "a pending job cannot be resumed")

            let paused = try await post(client, "/v1/jobs/\(job)/pause", [.cookie: cookie, .origin: Self.ownOrigin])
            #expect(paused.status == .ok, "\(String(buffer: paused.body))")
            #expect(try await state(h, job) == "paused")
            let (_, after) = try await view(client, cookie, job: job)
            #expect(after.contains("data-state=\"paused\"") && after.contains("data-action=\"resume\"") && !after.contains("data-action=\"pause\""))

            // Without Origin the Referer names the page.
            let resumed = try await post(client, "/v1/jobs/\(job)/resume", [.cookie: cookie, .referer: Self.ownOrigin + "/#job=\(job)"])
            #expect(resumed.status == .ok)
            #expect(try await state(h, job) == "pending")

            let bob = try await signIn(client, h.otherToken)
            let (_, theirs) = try await view(client, bob, job: job)
            #expect(!theirs.contains("data-action="), "no buttons on a job that is not theirs: \(theirs)")
            let refused = try await post(client, "/v1/jobs/\(job)/cancel", [.cookie: bob, .origin: Self.ownOrigin])
            #expect(refused.status == .notFound)
            #expect(try await state(h, job) == "pending")

            let cancelled = try await post(client, "/v1/jobs/\(job)/cancel", [.cookie: cookie, .origin: Self.ownOrigin])
            #expect(cancelled.status == .ok)
            #expect(try await state(h, job) == "cancelled")
            let (_, done) = try await view(client, cookie, job: job)
            #expect(!done.contains("data-action="), "a cancelled job takes no action: \(done)")
        }
    }

    /// Cross-site request forgery: a change riding on the session cookie from another origin, or
    /// naming none, is refused 403 before it acts; a bearer token is not a browser's ambient credential.
    @Test func aCookieRequestFromAnotherOriginIsRefused() async throws {
        let h = try Harness()
        let job = try await h.makeJob(name: "target", units: 1)
        try await withClient(h) { client in
            let cookie = try await signIn(client, h.requesterToken)
            let foreign: [HTTPFields] = [
                [.cookie: cookie, .origin: "http://evil.example"],
                [.cookie: cookie, .origin: "http://localhost:8081"],
                [.cookie: cookie, .origin: "null"],
                [.cookie: cookie, .referer: "http://evil.example/page"],
                [.cookie: cookie],
            ]
            for headers in foreign {
                for action in ["pause", "cancel"] {
                    let response = try await post(client, "/v1/jobs/\(job)/\(action)", headers)
                    #expect(response.status == .forbidden, "\(action) with \(headers)")
                    let body = String(buffer: response.body)
                    #expect(body.contains("\"cross-origin\"") && body.contains("must come from this server's own pages"), "\(body)")
                }
            }
            #expect(try await state(h, job) == "pending", "nothing changed")
            // Signing out and signing in are changes too (a forged sign-in would log the victim in as the attacker).
            let signOut = try await client.executeRequest(
                uri: "/v1/session", method: .delete, headers: [.cookie: cookie, .origin: "http://evil.example"], body: nil
            )
            #expect(signOut.status == .forbidden)
            #expect(try await view(client, cookie).0 == .ok, "the session is still alive")
            let signIn = try await client.executeRequest(
                uri: "/v1/session",
                method: .post,
                headers: [.contentType: "application/json", .origin: "http://evil.example"],
                body: ByteBuffer(string: #"{"token":"\#(h.requesterToken)"}"#)
            )
            #expect(signIn.status == .forbidden)
            // Reading is not a change; an API client with a bearer token is unaffected, whatever it says its origin is.
            #expect(try await view(client, cookie).0 == .ok)
            let api = try await post(client, "/v1/jobs/\(job)/pause", [.authorization: "Bearer \(h.requesterToken)", .origin: "http://evil.example"])
            #expect(api.status == .ok)
            #expect(try await state(h, job) == "paused")
        }
    }

    @Test func requesterSeesOnlyTheirOwnJobsAndNoRunners() async throws {
        let h = try Harness()
        let mine = try await h.makeJob(name: "mine", units: 1)
        let theirs = try await h.makeJob(name: "theirs", units: 1, owner: h.other)
        let runnerID = try await h.register("volunteer-1")
        for assignment in try await h.claim(runnerID, max: 2) {
            try await h.fail(assignment, by: runnerID, reason: "exit-code", stderr: "stderr of job \(assignment.jobID)")
        }
        try await withClient(h) { client in
            let cookie = try await signIn(client, h.requesterToken)
            let (_, html) = try await view(client, cookie)
            #expect(html.contains("data-job-id=\"\(mine)\""))
            #expect(!html.contains("data-job-id=\"\(theirs)\"") && !html.contains("theirs"))
            #expect(html.contains("stderr of job \(mine)") && !html.contains("stderr of job \(theirs)"))
            #expect(!html.contains("id=\"runners\""), "runners are for admins")
            #expect(html.contains("id=\"leaderboard\""), "the leaderboard is public credit")
            let (_, detail) = try await view(client, cookie, job: theirs)
            #expect(!detail.contains("data-unit="))
            #expect(detail.contains("class=\"error\""))

            let admin = try await signIn(client, h.adminToken)
            let (_, all) = try await view(client, admin)
            #expect(all.contains("data-job-id=\"\(mine)\"") && all.contains("data-job-id=\"\(theirs)\""))
        }
    }

    @Test func everythingUserSuppliedIsEscaped() async throws {
        let h = try Harness(requesterName: Self.hostile)
        let job = try await h.makeJob(name: Self.hostile, units: 2)
        let runnerID = try await h.register(Self.hostile)
        let assignments = try await h.claim(runnerID, max: 2)
        try await h.complete(assignments[0], by: runnerID, output: "ok")
        try await h.fail(assignments[1], by: runnerID, reason: "exit-code", stderr: "</pre><script>alert(1)</script>" + Self.hostile)
        try await withClient(h) { client in
            for token in [h.adminToken, h.requesterToken] {
                let cookie = try await signIn(client, token)
                for selected in [nil, job, "<b>1</b>"] {
                    let (status, html) = try await view(client, cookie, job: selected?.addingPercentEncoding)
                    #expect(status == .ok)
                    #expect(!html.contains("<img") && !html.contains("<script") && !html.contains("<b>"), "\(html)")
                    #expect(html.contains(Self.hostileEscaped))
                }
            }
        }
    }

    @Test func htmlInterpolationEscapesStringsOnly() {
        let name = "<a href='x'>\"&"
        let fragment: HTML = "<td title=\"\(name)\">\(name)</td>\("<br>" as HTML)\(3)"
        #expect(fragment.rendered == "<td title=\"&lt;a href=&#39;x&#39;&gt;&quot;&amp;\">&lt;a href=&#39;x&#39;&gt;&quot;&amp;</td><br>3")
        #expect(HTML.escape("a\0b") == "a\u{FFFD}b")
    }
}

extension String {
    /// Percent-encodes everything but letters and digits (for a query value in a test).
    fileprivate var addingPercentEncoding: String {
        var out = ""
        for byte in utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded
            }
        }
        return out
    }

    fileprivate var leftPadded: String { count == 1 ? "0" + self : self }
}
