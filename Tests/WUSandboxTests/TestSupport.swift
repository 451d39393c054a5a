import Glibc
import Testing
import WUProtocol

@testable import WUSandbox

/// Whether the privileged tests run: as root, and always under `CI=true`, where a test that would
/// skip must fail instead (a broken install must never turn green): as another user it then runs
/// and fails on its first privileged step.
let isRoot = geteuid() == 0 || getenv("CI").map { String(cString: $0) } == "true"

/// How a test's units get their sandbox: made when the unit starts, or prepared ahead (what the
/// runner does). Tests of what a unit can and cannot do run in both.
enum SandboxMode: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case new
    case prepared
    var testDescription: String { rawValue }
}

/// A volunteer cap of its own and a few helpers to run programs as units.
///
/// Every run removes its unit cgroup; ``close()`` removes the cap. Each hostile program prints
/// `WU-MARKER` first (it ran), then `key=value` lines the test checks exactly.
final class Harness: @unchecked Sendable {  // used by one test at a time (suites are serialized)
    let cap: VolunteerCap
    let name: String
    let workDir: String
    let mode: SandboxMode
    private var sandboxes: [Sandbox] = []

    init(_ label: String, mode: SandboxMode = .new, capLimits: Cgroup.Limits = .init()) throws {
        self.mode = mode
        name = "test-\(label)-\(mode)-\(getpid())"
        cap = try VolunteerCap.create(name: name, limits: capLimits)
        workDir = "/tmp/wu-sandbox-tests-\(getpid())-\(label)-\(mode)"
        FileSystem.removeTree(workDir)
        try FileSystem.makeDirectories(workDir, mode: 0o755)
    }

    func close() {
        for s in sandboxes { s.discardPrepared() }
        cap.remove()
        FileSystem.removeTree(workDir)
    }

    /// A sandbox for `profile` in this harness's mode. A prepared one is waited for, so that the
    /// unit really starts in it (``run`` checks it did).
    func sandbox(_ profile: SandboxProfile) throws -> Sandbox {
        let sandbox = try Sandbox(profile: profile, cap: cap, prepareAhead: mode == .prepared ? 1 : 0)
        sandboxes.append(sandbox)
        if mode == .prepared { Harness.awaitPrepared(sandbox) }
        return sandbox
    }

    /// Waits (at most 10 s) until `sandbox` has a sandbox prepared.
    static func awaitPrepared(_ sandbox: Sandbox) {
        let deadline = Monotonic.nowMs() + 10_000
        while sandbox.preparedCount < 1 && Monotonic.nowMs() < deadline { usleep(1000) }
        #expect(sandbox.preparedCount == 1, "no sandbox was prepared within 10 s")
    }

    /// A fresh, empty directory under the work directory.
    func directory(_ name: String) throws -> String {
        let d = workDir + "/" + name
        FileSystem.removeTree(d)
        try FileSystem.makeDirectories(d, mode: 0o755)
        return d
    }

    func run(
        _ command: [String],
        profile: String = "default",
        limits: SandboxRequest.Limits = .init(wallTimeMs: 30_000),
        out: String? = nil,
        code: String? = nil,
        environment: [String: String] = [:],
        progress: String? = nil
    ) async throws -> Sandbox.Result {
        let sandbox = try self.sandbox(SandboxProfile.load(named: profile))
        defer { sandbox.discardPrepared() }
        let result = try await sandbox.run(
            SandboxRequest(
                command: command,
                environment: environment,
                workingDirectory: code == nil ? "/" : "/code",
                codeDirectory: code,
                outputDirectory: out,
                progressFile: progress,
                limits: limits
            )
        )
        #expect(result.wasPrepared == (mode == .prepared), "the unit's sandbox was \(result.wasPrepared ? "" : "not ")prepared ahead")
        return result
    }

    /// Runs a python3 program whose first line of output is the marker.
    func python(
        _ source: String,
        profile: String = "default",
        limits: SandboxRequest.Limits = .init(wallTimeMs: 30_000),
        out: String? = nil,
        code: String? = nil,
        environment: [String: String] = [:]
    ) async throws -> (result: Sandbox.Result, values: [String: String]) {
        let program = Harness.pythonPrelude + source
        let result = try await run(["python3", "-c", program], profile: profile, limits: limits, out: out, code: code, environment: environment)
        return (result, Harness.values(result.usage.stdoutTail))
    }

    /// `syscall(nr, …)` from python through ctypes: `sc(nr, …)` gives 0 or the errno.
    static let pythonPrelude = """
        import ctypes, errno, os, socket, sys
        print("WU-MARKER", flush=True)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        def sc(nr, *args):
            r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
            return 0 if r >= 0 else ctypes.get_errno()
        def err(f):
            try:
                f()
                return 0
            except OSError as e:
                return e.errno
        def out(k, v):
            print(f"{k}={v}", flush=True)

        """

    static func values(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        var seen = false
        for line in text.split(separator: "\n") {
            if line == "WU-MARKER" {
                seen = true
                values["marker"] = "1"
                continue
            }
            guard seen, let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return values
    }

    /// Processes on the host whose real uid is `uid` (scans `/proc`).
    static func hostProcesses(uid: UInt32) -> [Int32] {
        var found: [Int32] = []
        for entry in FileSystem.list("/proc") {
            guard let pid = Int32(entry), let status = FileSystem.readText("/proc/\(entry)/status") else { continue }
            for line in status.split(separator: "\n") where line.hasPrefix("Uid:") {
                let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
                if fields.count >= 2, UInt32(fields[1]) == uid { found.append(pid) }
            }
        }
        return found
    }
}

/// errno values, named as the tests expect them.
enum E {
    static let EPERM = "\(Glibc.EPERM)"
    static let ENOENT = "\(Glibc.ENOENT)"
    static let EACCES = "\(Glibc.EACCES)"
    static let EROFS = "\(Glibc.EROFS)"
    static let ESRCH = "\(Glibc.ESRCH)"
    static let ENOSYS = "\(Glibc.ENOSYS)"
    static let EBADF = "\(Glibc.EBADF)"
    static let ECONNREFUSED = "\(Glibc.ECONNREFUSED)"
    static let ENETUNREACH = "\(Glibc.ENETUNREACH)"
    static let ENOSPC = "\(Glibc.ENOSPC)"
}
