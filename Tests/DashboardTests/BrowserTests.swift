import FoundationEssentials
import GRDB
import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

#if canImport(Glibc)
import Glibc
import WUTestSupport
#endif

/// The dashboard in headless Chromium against a real orchestrator and runner on loopback,
/// asserted through the DOM over the DevTools protocol.
@Suite(.serialized, .enabled(if: isRoot && DevTools.isInstalled, "needs root (the runner's sandbox) and /usr/bin/chromium"))
struct BrowserTests {
    static let hostileName = #"<img src=x onerror="window.__pwned=1;document.title='pwned'">"#
    static let screenshotPath = repositoryRoot + "/.build/dashboard.png"
    static let runningScreenshotPath = repositoryRoot + "/.build/dashboard-running.png"

    static let slowScript = """
        #!/bin/sh
        for step in 1 2 3; do echo "0.$((step * 3))" > "$WU_PROGRESS"; sleep 1; done
        echo "$WU_UNIT_ID" > /out/id
        """
    static let failingScript = """
        #!/bin/sh
        echo 'about to fail' >&2
        echo '<img src=x onerror=window.__pwned=2><script>window.__pwned=3</script>' >&2
        exit 3
        """

    @Test func jobGoesLiveToCompletionAndHostileTextStaysText() async throws {
        let cluster = try await Cluster(label: "dash", orchestratorFlags: ["--max-attempts", "2", "--lease-seconds", "6", "--heartbeat-ttl-seconds", "4"])
        defer { cluster.shutdown() }
        try cluster.startRunner(name: "browser-runner")
        let failing = try cluster.bundle(
            "failing",
            spec: #"{"name": "failing", "command": ["/bin/sh", "/code/fail.sh"], "units": [{"id": "f"}]}"#,
            files: ["code/fail.sh": Self.failingScript]
        )
        let slow = try cluster.bundle(
            "slow",
            spec: #"{"name": "slow", "command": ["/bin/sh", "/code/slow.sh"], "units": [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"}]}"#,
            files: ["code/slow.sh": Self.slowScript]
        )
        let failingJob = try await cluster.submit(failing)
        let hostileJob = try await Self.insertHostileJob(cluster)

        try FileIO.makeDirectories(cluster.directory + "/chromium")
        let chrome = try DevTools(profileDirectory: cluster.directory + "/chromium")
        defer { chrome.shutdown() }
        try await chrome.openPage()
        try await chrome.navigate(cluster.url + "/")
        try await chrome.waitFor("!document.getElementById('signin').hidden", seconds: 30, "the sign-in form")
        #expect(try await chrome.evaluate("document.getElementById('view').children.length") == 0, "no data before a sign-in")

        // Sign in through the form.
        _ = try await chrome.evaluate(
            "document.getElementById('token').value = '\(cluster.adminToken)'; document.getElementById('signin').requestSubmit(); true"
        )
        try await chrome.waitFor("document.getElementById('live').dataset.state === 'live'", seconds: 30, "the event stream")
        #expect(try await chrome.evaluate("document.cookie") == "", "the session cookie is HttpOnly")
        _ = try await chrome.evaluate("window.__sameDocument = 'yes'; true")

        // Submitted while the page is open: the job appears by itself, unfinished (4 units of 3 s on one runner).
        let slowJob = try await cluster.submit(slow)
        let row = "document.querySelector('#jobs tr[data-job-id=\"\(slowJob)\"]')"
        try await chrome.waitFor("!!\(row)", seconds: 30, "the slow job's row")
        let first = try await chrome.evaluate("Number(\(row).dataset.progress)").number ?? -1
        #expect(first >= 0 && first < 100, "the job shows up before it is done (\(first) %)")
        try await chrome.waitFor(
            "!!document.querySelector('#runners tr.runner td.running a[href=\"#job=\(slowJob)\"]')",
            seconds: 30,
            "the runner's row naming the unit it runs now"
        )
        try FileIO.makeDirectories(repositoryRoot + "/.build")
        try Self.write(Self.runningScreenshotPath, try await chrome.screenshot())

        // A click on the job opens its units; then it reaches 100 % with no reload.
        _ = try await chrome.evaluate("\(row).querySelector('td.name a').click(); true")
        try await chrome.waitFor("!!document.querySelector('#job-detail[data-job-id=\"\(slowJob)\"]')", seconds: 30, "the job's units")
        try await chrome.waitFor("\(row).dataset.progress === '100'", seconds: 150, "the slow job at 100 % (\(cluster.logs()))")
        try await chrome.waitFor("\(row).dataset.state === 'completed'", seconds: 30, "the slow job completed")
        try await chrome.waitFor(
            "document.querySelectorAll('#job-detail tr.copy[data-copy-state=\"valid\"]').length === 4",
            seconds: 30,
            "four valid copies in the job's units"
        )
        #expect(try await chrome.evaluate("window.__sameDocument") == "yes", "no reload")
        #expect(try await chrome.evaluate("Number(document.body.dataset.renders) > 2") == true, "rendered again on events")

        // The runner and the leaderboard.
        try await chrome.waitFor(
            "[...document.querySelectorAll('#runners tr.runner td.name')].some((td) => td.textContent === 'browser-runner')",
            seconds: 30,
            "the runner in the runners table"
        )
        try await chrome.waitFor(
            "[...document.querySelectorAll('#leaderboard td.name')].some((td) => td.textContent === 'browser-runner')",
            seconds: 30,
            "the runner on the leaderboard"
        )

        // Hostile text: the job name and the failing unit's stderr show as text and run nothing.
        let hostileRow = "document.querySelector('#jobs tr[data-job-id=\"\(hostileJob)\"]')"
        try await chrome.waitFor("!!\(hostileRow)", seconds: 30, "the hostile job's row")
        #expect(try await chrome.evaluate("\(hostileRow).querySelector('td.name').textContent") == .string(Self.hostileName))
        try await chrome.waitFor(
            "[...document.querySelectorAll('#failures li[data-job-id=\"\(failingJob)\"] pre.stderr')]"
                + ".some((pre) => pre.textContent.includes('<img src=x onerror=window.__pwned=2><script>'))",
            seconds: 60,
            "the failing unit's stderr among the recent failures"
        )
        #expect(try await chrome.evaluate("document.querySelectorAll('#view img, #view script, #view [onerror]').length") == 0)
        #expect(try await chrome.evaluate("typeof window.__pwned") == "undefined", "page errors: \(chrome.pageErrors)")
        #expect(try await chrome.evaluate("document.title") == "wu orchestrator")

        // The filter: a click on "failed" leaves the failed job only; a click on a job keeps the filter.
        try await chrome.waitFor("\(row).dataset.state === 'completed'", seconds: 30, "the slow job still completed")
        _ = try await chrome.evaluate("document.querySelector('#job-filter a[data-filter=\"failed\"]').click(); true")
        try await chrome.waitFor(
            "!document.querySelector('#jobs tr[data-job-id=\"\(slowJob)\"]') && !!document.querySelector('#jobs tr[data-job-id=\"\(failingJob)\"]')",
            seconds: 30,
            "only failed jobs after a click on the filter"
        )
        #expect(try await chrome.evaluate("location.hash") == "#state=failed")
        _ = try await chrome.evaluate("document.querySelector('#jobs tr[data-job-id=\"\(failingJob)\"] td.name a').click(); true")
        try await chrome.waitFor("!!document.querySelector('#job-detail[data-job-id=\"\(failingJob)\"]')", seconds: 30, "the failed job's units")
        #expect(try await chrome.evaluate("location.hash") == .string("#state=failed&job=\(failingJob)"))
        #expect(try await chrome.evaluate("!!document.querySelector('#jobs tr[data-job-id=\"\(slowJob)\"]')") == false, "the filter holds")
        // The job that can never run says why, on its own view.
        _ = try await chrome.evaluate("location.hash = '#job=\(hostileJob)'; true")
        try await chrome.waitFor(
            "(document.querySelector('#waiting li')?.textContent ?? '') === '1 unit waits: no runner registered with arch no-such-arch'",
            seconds: 30,
            "why the hostile job's unit waits"
        )

        try await Task.sleep(for: .milliseconds(500))
        let png = try await chrome.screenshot()
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        try FileIO.makeDirectories(repositoryRoot + "/.build")
        try Self.write(Self.screenshotPath, png)

        // A server restart: the page notices, reconnects by itself and shows what happens next.
        cluster.orchestrator?.stop()
        try await chrome.waitFor("document.getElementById('live').dataset.state !== 'live'", seconds: 30, "the page noticing the restart")
        try await cluster.startOrchestrator()
        try await chrome.waitFor("document.getElementById('live').dataset.state === 'live'", seconds: 60, "the event stream again")
        let after = try await cluster.submit(failing)
        try await chrome.waitFor(
            "!!document.querySelector('#jobs tr[data-job-id=\"\(after)\"]')",
            seconds: 30,
            "a job submitted after the restart"
        )
        #expect(try await chrome.evaluate("window.__sameDocument") == "yes", "no reload across the restart")

        // A runner that stops calling turns stale on the page, though no event says so.
        try await chrome.waitFor("!!document.querySelector('#runners tr.runner[data-status=\"active\"]')", seconds: 30, "an active runner")
        cluster.runners[0].stop()
        try await chrome.waitFor(
            "!!document.querySelector('#runners tr.runner[data-status=\"stale\"]')",
            seconds: 30,
            "the stopped runner shown as stale"
        )

        // Sign-out: the form is back, the view is empty and the session is gone.
        _ = try await chrome.evaluate("document.getElementById('signout').click(); true")
        try await chrome.waitFor("!document.getElementById('signin').hidden", seconds: 30, "the sign-in form after sign-out")
        #expect(try await chrome.evaluate("document.getElementById('view').children.length") == 0)
        #expect(try await chrome.evaluate("fetch('/v1/session').then((r) => r.status)") == 401)
    }

    /// The owner pauses, resumes and cancels their job with the view's buttons; a page of another origin
    /// (another port of the same host: the same site, so SameSite=Strict still sends the cookie), a
    /// crafted request with the session cookie and a foreign Origin, and another requester change nothing.
    @Test func ownerControlsTheJobFromThePageAndNobodyElseCan() async throws {
        let cluster = try await Cluster(label: "dash-act")
        defer { cluster.shutdown() }
        let mallory = try cluster.admin(["token", "create", "--role", "requester", "--name", "mallory"])
        let bundle = try cluster.bundle(
            "held",
            spec: #"{"name": "held", "command": ["/bin/sh", "/code/slow.sh"], "units": [{"id": "a"}, {"id": "b"}]}"#,
            files: ["code/slow.sh": Self.slowScript]
        )
        // No runner: the job waits, pending, until it is controlled.
        let job = try await cluster.submit(bundle)
        let store = try OrchestratorStore(dataDirectory: cluster.dataDirectory)
        func stored() async throws -> String {
            try await store.read { db in try String.fetchOne(db, sql: "SELECT state FROM job WHERE id = ?", arguments: [Int64(job)]) } ?? "missing"
        }

        try FileIO.makeDirectories(cluster.directory + "/chromium")
        let chrome = try DevTools(profileDirectory: cluster.directory + "/chromium")
        defer { chrome.shutdown() }
        try await chrome.openPage()
        try await Self.signIn(chrome, cluster.url, token: cluster.requesterToken)
        let detail = "document.querySelector('#job-detail[data-job-id=\"\(job)\"]')"
        let button = { (action: String) in "document.querySelector('#job-actions button[data-action=\"\(action)\"]')" }
        _ = try await chrome.evaluate("location.hash = '#job=\(job)'; true")
        try await chrome.waitFor("!!\(button("pause")) && !!\(button("cancel")) && !\(button("resume"))", seconds: 30, "pause and cancel")

        _ = try await chrome.evaluate("\(button("pause")).click(); true")
        try await chrome.waitFor("\(detail)?.dataset.state === 'paused' && !!\(button("resume"))", seconds: 30, "the job paused on the page")
        #expect(try await chrome.evaluate("document.getElementById('notice').textContent") == .string("Job \(job) is paused."))
        #expect(try await stored() == "paused")
        _ = try await chrome.evaluate("\(button("resume")).click(); true")
        try await chrome.waitFor("\(detail)?.dataset.state === 'pending' && !!\(button("pause"))", seconds: 30, "the job resumed on the page")
        #expect(try await stored() == "pending")

        // A page on another loopback port posts with the browser's cookie: the server refuses it.
        let evilPort = Cluster.freePort()
        try FileIO.makeDirectories(cluster.directory + "/evil")
        try cluster.write(cluster.directory + "/evil/index.html", "<!doctype html><title>evil</title>")
        let evil = try ChildProcess(
            ["/usr/bin/python3", "-m", "http.server", String(evilPort), "--bind", "127.0.0.1", "--directory", cluster.directory + "/evil"],
            log: cluster.directory + "/evil.log"
        )
        defer { evil.stop() }
        try await Self.navigateWhenUp(chrome, "http://127.0.0.1:\(evilPort)/index.html")
        let forged = try await chrome.evaluate(
            "fetch('\(cluster.url)/v1/jobs/\(job)/cancel', { method: 'POST', mode: 'no-cors', credentials: 'include' })"
                + ".then(() => 'sent', (error) => 'not sent: ' + error)"
        )
        #expect(forged == "sent")
        // The fetch settled once the answer came: the server has acted on it, or refused it.
        #expect(try await stored() == "pending", "the other origin's page changed nothing")
        // The same request as a crafted one, with the browser's own session cookie and a foreign Origin: 403.
        let cookies = try await chrome.send("Storage.getCookies", toPage: false)
        let session = try #require(cookies["cookies"]?.array?.first { $0["name"]?.string == "wu_session" }?["value"]?.string)
        let crafted = try Self.curl(
            cluster,
            ["-X", "POST", "-H", "Cookie: wu_session=\(session)", "-H", "Origin: http://evil.example", cluster.url + "/v1/jobs/\(job)/cancel"]
        )
        #expect(crafted.hasPrefix("403 ") && crafted.contains("\"cross-origin\""), "\(crafted)")
        #expect(try await stored() == "pending", "the crafted request changed nothing")

        // Another requester: no buttons, and a post from the page is refused.
        try await Self.signIn(chrome, cluster.url, token: mallory, signOutFirst: true)
        _ = try await chrome.evaluate("location.hash = '#job=\(job)'; true")
        try await chrome.waitFor("!!document.querySelector('#job-detail p.error')", seconds: 30, "the job refused to mallory")
        #expect(try await chrome.evaluate("document.querySelectorAll('button[data-action]').length") == 0)
        #expect(try await chrome.evaluate("fetch('/v1/jobs/\(job)/cancel', { method: 'POST' }).then((r) => r.status)") == 404)
        #expect(try await stored() == "pending")

        // The owner again: cancel (after the confirmation), shown in its own colour, not the failure red.
        try await Self.signIn(chrome, cluster.url, token: cluster.requesterToken, signOutFirst: true)
        _ = try await chrome.evaluate("location.hash = '#job=\(job)'; true")
        try await chrome.waitFor("!!\(button("cancel"))", seconds: 30, "the cancel button")
        _ = try await chrome.evaluate("window.confirm = () => true; \(button("cancel")).click(); true")
        try await chrome.waitFor("\(detail)?.dataset.state === 'cancelled'", seconds: 30, "the job cancelled on the page")
        #expect(try await stored() == "cancelled")
        #expect(try await chrome.evaluate("document.querySelectorAll('#job-actions button').length") == 0)
        let colour = "getComputedStyle(document.querySelector('#jobs tr[data-job-id=\"\(job)\"] .badge')).backgroundColor"
        #expect(try await chrome.evaluate(colour) == "rgb(230, 231, 234)", "cancelled is grey, not failed's rgb(251, 227, 227)")
    }

    /// Opens the dashboard and signs in with `token` through the form (signing out first when asked).
    static func signIn(_ chrome: DevTools, _ url: String, token: String, signOutFirst: Bool = false) async throws {
        if signOutFirst {
            try await chrome.navigate(url + "/")
            try await chrome.waitFor("document.body.dataset.signedIn === 'true'", seconds: 30, "the page signed in by its cookie")
            _ = try await chrome.evaluate("document.getElementById('signout').click(); true")
            try await chrome.waitFor("!document.getElementById('signin').hidden", seconds: 30, "the sign-in form after sign-out")
        } else {
            try await chrome.navigate(url + "/")
            try await chrome.waitFor("!document.getElementById('signin').hidden", seconds: 30, "the sign-in form")
        }
        _ = try await chrome.evaluate("document.getElementById('token').value = '\(token)'; document.getElementById('signin').requestSubmit(); true")
        try await chrome.waitFor("document.getElementById('live').dataset.state === 'live'", seconds: 30, "the event stream")
    }

    /// Navigates to `url` once its server answers (a just-started one may not listen yet).
    static func navigateWhenUp(_ chrome: DevTools, _ url: String) async throws {
        for _ in 0..<100 {
            if (try? await chrome.navigate(url)) != nil,
                (try? await chrome.waitFor("document.title === 'evil'", seconds: 5, "the page of another origin")) != nil
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DevTools.Failure(description: "\(url) did not come up")
    }

    /// Runs curl with `arguments` and returns "STATUS BODY".
    static func curl(_ cluster: Cluster, _ arguments: [String]) throws -> String {
        let log = cluster.directory + "/curl-\(UInt32.random(in: 0...UInt32.max)).log"
        let process = try ChildProcess(["/usr/bin/curl", "-s", "-w", "%{http_code} ", "-o", log + ".body"] + arguments, log: log)
        guard process.wait() == 0 else { throw DevTools.Failure(description: "curl failed: \(process.output)") }
        return process.output + String(decoding: (try? FileIO.readFile(log + ".body")) ?? [], as: UTF8.self)
    }

    /// A job whose name no bundle may carry (`wu pack` and the server refuse it), written straight
    /// into the store the way a bug or a future field could: it needs an arch no runner has, so it never runs.
    static func insertHostileJob(_ cluster: Cluster) async throws -> String {
        let orchestrator = try Orchestrator(config: OrchestratorConfiguration(dataDirectory: cluster.dataDirectory))
        let token = cluster.requesterToken
        let now = orchestrator.scheduler.clock.now()
        let owner = try #require(try await orchestrator.store.read { db in try TokenAdmin.identify(db, token: token, now: now) })
        let manifest = Manifest(
            name: hostileName,
            version: "1",
            command: ["/bin/true"],
            resources: Manifest.Resources(arch: "no-such-arch"),
            units: [Manifest.Unit(id: "u0")],
            files: [Manifest.File(path: "code/run.sh", sha256: String(repeating: "c", count: 64), size: 1, mode: 0o755)]
        )
        return try await orchestrator.scheduler.transaction { tx in
            try Scheduler.createJob(
                tx,
                owner: owner,
                manifest: manifest,
                priority: 0,
                signer: "test",
                manifestDigest: String(repeating: "a", count: 64),
                signatureDigest: String(repeating: "b", count: 64)
            )
        }.jobID
    }

    static func write(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        defer { close(fd) }
        try bytes.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
    }
}
