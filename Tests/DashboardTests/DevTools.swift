import FoundationEssentials
import Synchronization
import WUCore

#if canImport(Glibc)
import Glibc
#endif

/// Headless Chromium driven through the DevTools protocol over `--remote-debugging-pipe`.
///
/// Chromium reads NUL-terminated JSON commands on its fd 3 and writes answers and events on fd 4,
/// so no WebSocket client is needed. A dedicated thread reads fd 4 (blocking reads stay off the
/// cooperative pool) and resumes the command waiting for each answer.
final class DevTools: @unchecked Sendable {  // fds and pid are set once in init; mutable state sits in the Mutex
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private struct State {
        var nextID = 0
        var waiting: [Int: CheckedContinuation<JSONValue, any Error>] = [:]
        var closed = false
        /// Exceptions and console errors the page reported, for failure messages.
        var pageErrors: [String] = []
    }

    private let state = Mutex(State())
    private let input: Int32
    private let output: Int32
    let pid: pid_t
    let profileDirectory: String
    private(set) var session = ""

    static let binary = "/usr/bin/chromium"
    /// Under `CI=true` a missing browser fails the browser tests instead of skipping them.
    static var isInstalled: Bool { access(binary, X_OK) == 0 || getenv("CI").map { String(cString: $0) } == "true" }

    init(profileDirectory: String, width: Int = 1400, height: Int = 1000) throws {
        self.profileDirectory = profileDirectory
        var toBrowser: [Int32] = [0, 0]
        var fromBrowser: [Int32] = [0, 0]
        // pipe2 is not in the Glibc module: pipe, then close-on-exec (children spawned meanwhile may inherit them briefly).
        guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else { throw Failure(description: "pipe failed: errno \(errno)") }
        for fd in toBrowser + fromBrowser { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // Move the child's ends above 4 so dup2 onto 3 and 4 never aliases them.
        let childIn = fcntl(toBrowser[0], F_DUPFD_CLOEXEC, 10)
        let childOut = fcntl(fromBrowser[1], F_DUPFD_CLOEXEC, 10)
        close(toBrowser[0])
        close(fromBrowser[1])
        defer {
            close(childIn)
            close(childOut)
        }
        input = toBrowser[1]
        output = fromBrowser[0]

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, profileDirectory + "/chromium.log", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_adddup2(&actions, childIn, 3)
        posix_spawn_file_actions_adddup2(&actions, childOut, 4)
        let argv = [
            Self.binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--remote-debugging-pipe",
            "--user-data-dir=" + profileDirectory + "/profile", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
            "--window-size=\(width),\(height)", "about:blank",
        ]
        let cArgs = argv.map { strdup($0) } + [nil]
        let env = ["HOME=" + profileDirectory, "PATH=/usr/bin:/bin", "LANG=C.UTF-8"]
        let cEnv = env.map { strdup($0) } + [nil]
        defer {
            for pointer in cArgs { free(pointer) }
            for pointer in cEnv { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, Self.binary, &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw Failure(description: "posix_spawn \(Self.binary): errno \(rc)") }
        self.pid = pid

        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread,
            nil,
            { raw in
                let devTools = Unmanaged<DevTools>.fromOpaque(raw!).takeRetainedValue()
                devTools.readLoop()
                return nil
            },
            box
        )
        guard created == 0 else { throw Failure(description: "pthread_create: \(created)") }
        pthread_detach(thread)
    }

    /// Opens a page target and attaches to it; later commands go to that page.
    func openPage() async throws {
        let target = try await send("Target.createTarget", ["url": "about:blank"], toPage: false)
        guard let targetID = target["targetId"]?.string else { throw Failure(description: "no targetId: \(target)") }
        let attached = try await send("Target.attachToTarget", ["targetId": .string(targetID), "flatten": true], toPage: false)
        guard let session = attached["sessionId"]?.string else { throw Failure(description: "no sessionId: \(attached)") }
        self.session = session
        _ = try await send("Page.enable")
        _ = try await send("Runtime.enable")
        _ = try await send("Log.enable")
        _ = try await send(
            "Emulation.setDeviceMetricsOverride",
            ["width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false]
        )
    }

    func navigate(_ url: String) async throws {
        let result = try await send("Page.navigate", ["url": .string(url)])
        if let error = result["errorText"]?.string { throw Failure(description: "navigation to \(url) failed: \(error)") }
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value as JSON.
    func evaluate(_ expression: String) async throws -> JSONValue {
        let result = try await send("Runtime.evaluate", ["expression": .string(expression), "returnByValue": true, "awaitPromise": true])
        if let exception = result["exceptionDetails"] {
            throw Failure(description: "\(expression) threw: \(exception["exception"]?["description"]?.string ?? "\(exception)")")
        }
        return result["result"]?["value"] ?? .null
    }

    /// Evaluates `expression` every 100 ms until it is `true`, for up to `seconds`.
    func waitFor(_ expression: String, seconds: Double, _ what: String) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var last: JSONValue = .null
        while ContinuousClock.now < deadline {
            last = (try? await evaluate(expression)) ?? .null
            if last == .bool(true) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "timed out after \(seconds) s waiting for \(what) (\(expression) is \(last)); page errors: \(pageErrors)")
    }

    /// A PNG of the whole page.
    func screenshot() async throws -> [UInt8] {
        let metrics = try await send("Page.getLayoutMetrics")
        let size = metrics["cssContentSize"] ?? metrics["contentSize"]
        let width = size?["width"]?.number ?? 1400
        let height = min(size?["height"]?.number ?? 1000, 4000)
        let clip: JSONValue = .object(["x": 0, "y": 0, "width": .number(width), "height": .number(height), "scale": 1])
        let result = try await send(
            "Page.captureScreenshot",
            ["format": "png", "captureBeyondViewport": true, "clip": clip],
            timeout: .seconds(60)
        )
        guard let text = result["data"]?.string, let data = Data(base64Encoded: text) else { throw Failure(description: "no screenshot data") }
        return Array(data)
    }

    var pageErrors: [String] { state.withLock { $0.pageErrors } }

    /// Sends one command and waits for its answer.
    func send(
        _ method: String,
        _ params: [String: JSONValue] = [:],
        toPage: Bool = true,
        timeout: Duration = .seconds(30)
    ) async throws
        -> JSONValue
    {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        var message: [String: JSONValue] = ["id": .number(Double(id)), "method": .string(method), "params": .object(params)]
        if toPage { message["sessionId"] = .string(session) }
        let bytes = Array(try JSONEncoder().encode(message)) + [0]
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.finish(id, .failure(Failure(description: "\(method) had no answer within \(timeout)")))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let closed = state.withLock { s -> Bool in
                if s.closed { return true }
                s.waiting[id] = continuation
                return false
            }
            if closed {
                continuation.resume(throwing: Failure(description: "Chromium has exited"))
                return
            }
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    finish(id, .failure(Failure(description: "write to Chromium failed: errno \(errno)")))
                    return
                }
                offset += n
            }
        }
    }

    private func finish(_ id: Int, _ result: Result<JSONValue, any Error>) {
        let continuation = state.withLock { $0.waiting.removeValue(forKey: id) }
        continuation?.resume(with: result)
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var pending: [UInt8] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending += buffer[0..<n]
            while let end = pending.firstIndex(of: 0) {
                handle(Array(pending[..<end]))
                pending.removeSubrange(...end)
            }
        }
        let waiting = state.withLock { s in
            s.closed = true
            defer { s.waiting = [:] }
            return s.waiting.values
        }
        for continuation in waiting { continuation.resume(throwing: Failure(description: "Chromium closed its DevTools pipe")) }
    }

    private func handle(_ message: [UInt8]) {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(message)) else { return }
        if let id = value["id"]?.number {
            if let error = value["error"] {
                finish(Int(id), .failure(Failure(description: "DevTools error: \(error)")))
            } else {
                finish(Int(id), .success(value["result"] ?? .null))
            }
            return
        }
        let method = value["method"]?.string ?? ""
        let params = value["params"]
        var note: String?
        switch method {
        case "Runtime.exceptionThrown":
            note = params?["exceptionDetails"]?["exception"]?["description"]?.string ?? params?["exceptionDetails"]?["text"]?.string
        case "Log.entryAdded":
            if params?["entry"]?["level"]?.string == "error" { note = params?["entry"]?["text"]?.string }
        case "Runtime.consoleAPICalled":
            if params?["type"]?.string == "error" { note = "console.error" }
        default: break
        }
        if let note { state.withLock { $0.pageErrors.append(note) } }
    }

    /// Closes the browser (Browser.close, then SIGKILL after 5 s) and reaps it.
    func shutdown() {
        if let message = try? JSONEncoder().encode(["id": JSONValue.number(999_999), "method": "Browser.close"]) {
            let bytes = Array(message) + [0]
            _ = bytes.withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
        }
        var status: Int32 = 0
        var reaped = false
        for _ in 0..<100 where !reaped {
            reaped = waitpid(pid, &status, WNOHANG) == pid
            if !reaped { usleep(50_000) }
        }
        if !reaped {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
        Glibc.close(input)
    }
}
