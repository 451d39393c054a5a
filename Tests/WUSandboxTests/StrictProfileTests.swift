import Glibc
import Testing
import WUProtocol

@testable import WUSandbox

/// `strict` denies new processes and sockets; the same program under `default` is the control.
@Suite(.serialized) struct StrictProfileTests {
    static let program = """
        try:
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            out("fork", 0)
        except OSError as e:
            out("fork", e.errno)
        out("socket", err(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)))
        out("socketpair", err(lambda: socket.socketpair()))
        import threading
        t = threading.Thread(target=lambda: None); t.start(); t.join()
        out("thread", 0)
        """

    @Test(.enabled(if: isRoot, "needs root for cgroups")) func strictDeniesForkAndSockets() async throws {
        let h = try Harness("strict")
        defer { h.close() }
        let (s, sv) = try await h.python(Self.program, profile: "strict")
        #expect(s.usage.exitCode == 0, "\(s.usage.stderrTail)")
        #expect(sv["marker"] == "1")
        #expect(sv["fork"] == E.EPERM)
        #expect(sv["socket"] == E.EPERM)
        #expect(sv["socketpair"] == E.EPERM)
        #expect(sv["thread"] == "0")  // threads are not processes

        let (d, dv) = try await h.python(Self.program, profile: "default")
        #expect(d.usage.exitCode == 0, "\(d.usage.stderrTail)")
        #expect(dv["fork"] == "0")
        #expect(dv["socket"] == "0")
        #expect(dv["socketpair"] == "0")
        #expect(dv["thread"] == "0")
    }

    @Test(.enabled(if: isRoot)) func defaultRunsShellCoreutilsAwkPython() async throws {
        let h = try Harness("tools")
        defer { h.close() }
        let r = try await h.run([
            "/bin/sh", "-c",
            "echo a b c | awk '{print $2}'; printf 'x\\ny\\n' | sort -r | head -1; python3 -c 'import json,hashlib; print(hashlib.sha256(b\"\").hexdigest()[:8])'; ls /code >/dev/null && echo ok",
        ])
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(r.usage.stdoutTail == "b\ny\ne3b0c442\nok\n")
    }

    @Test(.enabled(if: isRoot)) func setupFailureReportsStageAndErrno() async throws {
        let h = try Harness("fail")
        defer { h.close() }
        do {
            _ = try await h.run(["/no/such/program"])
            Issue.record("expected a spawn error")
        } catch let error as SandboxError {
            #expect(error.code == .spawn)
            #expect(error.stage == "execve")
            #expect(error.errno == ENOENT)
        }
        #expect(h.cap.cgroup.map { FileSystem.list($0.directories[0]).filter { $0.hasPrefix("unit-") } } == [])
    }
}
