import FoundationEssentials
import WUCore
#if canImport(Glibc)
public import Glibc
#endif

/// A child process of the test, with its output in a log file.
public final class ChildProcess: @unchecked Sendable {  // pid and log path are set once in init; kill/wait are idempotent syscalls
    public let pid: pid_t
    public let log: String

    public init(_ argv: [String], log: String, environment: [String: String] = [:]) throws {
        self.log = log
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let cArgs = argv.map { strdup($0) } + [nil]
        defer {
            cEnv.forEach { free($0) }
            cArgs.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw SystemCallError("posix_spawn", path: argv[0], errno: rc) }
        self.pid = pid
    }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the process to exit (up to `seconds`); returns its exit status, or nil if it is still running.
    @discardableResult
    public func wait(seconds: Double = 30) -> Int32? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
            if r < 0 { return -1 }
            usleep(20_000)
        }
        return nil
    }

    public var output: String { String(decoding: (try? FileIO.readFile(log)) ?? [], as: UTF8.self) }

    public func stop() {
        signal(SIGTERM)
        if wait(seconds: 20) == nil {
            signal(SIGKILL)
            wait(seconds: 5)
        }
    }
}

