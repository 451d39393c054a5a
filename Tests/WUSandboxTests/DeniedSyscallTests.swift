import CSandbox
import Glibc
import Testing
import WUProfiles
import WUProtocol

@testable import WUSandbox

/// The denied-syscall report: every call the profile's filter denies is answered with the
/// profile's errno and counted by name; a flood is budgeted.
@Suite(.serialized) struct DeniedSyscallTests {
    @Test(.enabled(if: isRoot, "needs root for cgroups and id maps"), arguments: SandboxMode.allCases) func mountThreeTimesAndBpfOnceAreReportedExactly(_ mode: SandboxMode) async throws {
        let h = try Harness("deny-count", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            out("mount", ",".join(str(sc(165, 0, 0, 0, 0, 0)) for _ in range(3)))
            out("bpf", sc(321, 0, 0, 0))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["marker"] == "1")
        // The unit sees exactly the profile's errno, as without the report.
        #expect(v["mount"] == [E.EPERM, E.EPERM, E.EPERM].joined(separator: ","))
        #expect(v["bpf"] == E.EPERM)
        #expect(r.usage.deniedSyscalls == [.init(name: "mount", count: 3), .init(name: "bpf", count: 1)])
        #expect(r.usage.deniedSummary == "mount×3 bpf")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func conditionalRulesKeepTheirOwnErrno(_ mode: SandboxMode) async throws {
        let h = try Harness("deny-cond", mode: mode)
        defer { h.close() }
        // clone3 is ENOSYS by its own rule; ioctl is allowed but for TIOCSTI; FIONREAD on a pipe is a control.
        let (r, v) = try await h.python(
            """
            import fcntl, termios, struct
            out("clone3", sc(435, 0, 0))
            rd, wr = os.pipe()
            out("fionread", err(lambda: fcntl.ioctl(rd, termios.FIONREAD, struct.pack("i", 0))))
            out("tiocsti", err(lambda: fcntl.ioctl(0, termios.TIOCSTI, b"x")))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["marker"] == "1")
        #expect(v["clone3"] == E.ENOSYS)
        #expect(v["fionread"] == "0")
        #expect(v["tiocsti"] == E.EPERM)
        #expect(r.usage.deniedSyscalls.contains(.init(name: "clone3", count: 1)))
        #expect(r.usage.deniedSyscalls.contains(.init(name: "ioctl", count: 1)), "only TIOCSTI, not FIONREAD: \(r.usage.deniedSyscalls)")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func aUnitDeniedNothingReportsNothing(_ mode: SandboxMode) async throws {
        let h = try Harness("deny-none", mode: mode)
        defer { h.close() }
        let r = try await h.run(["/bin/sh", "-c", "echo ok"])
        #expect(r.usage.exitCode == 0)
        #expect(r.usage.stdoutTail == "ok\n")
        #expect(r.usage.deniedSyscalls.isEmpty)
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func strictReportsTheForkItDenies(_ mode: SandboxMode) async throws {
        let h = try Harness("deny-strict", mode: mode)
        defer { h.close() }
        let program = "import os\nprint('WU-MARKER', flush=True)\ntry:\n    os.fork()\n    print('forked=1')\nexcept OSError as e:\n    print(f'forked={e.errno}')\n"
        let strict = try await h.run(["python3", "-c", program], profile: "strict")
        #expect(Harness.values(strict.usage.stdoutTail)["forked"] == E.EPERM, "\(strict.usage.stderrTail)")
        #expect(strict.usage.deniedSyscalls.contains { $0.name == "clone" }, "\(strict.usage.deniedSyscalls)")
        // Control: default lets the same fork through and denies nothing.
        let control = try await h.run(["python3", "-c", program], profile: "default")
        #expect(Harness.values(control.usage.stdoutTail)["forked"] == "1")
        #expect(!control.usage.deniedSyscalls.contains { $0.name == "clone" })
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func aFloodIsBudgetedAndTheTableBounded(_ mode: SandboxMode) async throws {
        let h = try Harness("deny-flood", mode: mode)
        defer { h.close() }
        // mount in a loop for 3 s, then 2,100 distinct invalid syscall numbers.
        let program = """
            import time
            n = 0
            end = time.monotonic() + 3
            while time.monotonic() < end:
                sc(165, 0, 0, 0, 0, 0)
                n += 1
            for nr in range(600, 2700):
                sc(nr)
            out("calls", n)
            """
        let (r, v) = try await h.python(program)
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        let calls = Int64(v["calls"] ?? "") ?? -1
        let counted = r.usage.deniedSyscalls.first { $0.name == "mount" }?.count ?? 0
        #expect(calls > 0 && counted == calls, "every answered call is counted: \(calls) vs \(counted); \(r.usage.deniedSyscalls.prefix(5)) of \(r.usage.deniedSyscalls.count)")
        // At most the budget per second (plus the burst) is answered: the unit waits, not the runner.
        let wallSeconds = Double(r.usage.wallMs) / 1000
        let rate = SyscallSupervisor.budget(millicpus: 64_000)  // the profile's maximum: no --cpus given
        let budget = Int64(rate * wallSeconds + rate / 10) + 2100
        #expect(calls + 2100 <= budget, "answered \(calls + 2100) calls in \(wallSeconds) s")
        print("flood: \(calls + 2100) denied calls answered in \(wallSeconds) s, runner CPU \(Double(r.runnerCPUNs) / 1e6) ms")
        // The table holds at most maxDistinct names; the rest are lumped together.
        #expect(r.usage.deniedSyscalls.count <= SyscallSupervisor.maxDistinct + 1)
        #expect(r.usage.deniedSyscalls.contains { $0.name == "(other)" })
        // The runner's side (its unit thread: the supervisor and the poll loop) stays far below a core.
        let runnerCPU = Double(r.runnerCPUNs) / 1e9
        #expect(runnerCPU < 0.5 * wallSeconds, "the runner spent \(runnerCPU) s of CPU in \(wallSeconds) s")
    }

    // MARK: The evaluator, against what the kernel does above

    @Test func theEvaluatorAgreesWithTheDefaultProfile() throws {
        let filter = try SeccompFilter.compile(SandboxProfile.load(named: "default"), cacheDirectory: nil)
        let arch = wu_seccomp_native_arch()
        func nr(_ name: String) throws -> Int32 { try #require(SyscallNames.number(name)) }
        #expect(filter.evaluate(nr: try nr("read"), arch: arch, args: [0, 0, 0]).allows)
        let mount = filter.evaluate(nr: try nr("mount"), arch: arch, args: [])
        #expect(mount.action == SeccompFilter.Verdict.errno && mount.errnoValue == EPERM)
        let clone3 = filter.evaluate(nr: try nr("clone3"), arch: arch, args: [])
        #expect(clone3.action == SeccompFilter.Verdict.errno && clone3.errnoValue == ENOSYS)
        #expect(filter.evaluate(nr: try nr("ioctl"), arch: arch, args: [0, 0x541B]).allows)  // FIONREAD
        #expect(!filter.evaluate(nr: try nr("ioctl"), arch: arch, args: [0, 0x5412]).allows)  // TIOCSTI
        // The kernel reads the request's low 32 bits: so does the filter, for every request.
        #expect(!filter.evaluate(nr: try nr("ioctl"), arch: arch, args: [0, 0x1_0000_5412]).allows)
        #expect(!filter.evaluate(nr: try nr("ioctl"), arch: arch, args: [0, 0xFFFF_FFFF_0000_5412]).allows)
        #expect(filter.evaluate(nr: try nr("ioctl"), arch: arch, args: [0, 0xFFFF_FFFF_0000_541B]).allows)
        for bit in 0..<32 { #expect(filter.evaluate(nr: try nr("ioctl"), arch: arch, args: [0, 0x5412 ^ (1 << UInt64(bit))]).allows) }
        #expect(filter.evaluate(nr: try nr("socket"), arch: arch, args: [1]).allows)  // AF_UNIX
        #expect(!filter.evaluate(nr: try nr("socket"), arch: arch, args: [0x1_0000_0011]).allows)  // AF_PACKET, high bits set
        #expect(!filter.evaluate(nr: try nr("clone"), arch: arch, args: [0x1000_0000]).allows)  // CLONE_NEWUSER
        #expect(filter.evaluate(nr: try nr("clone"), arch: arch, args: [0x11]).allows)  // SIGCHLD: a fork
        // Another architecture is never allowed; a program that jumps off its end kills.
        #expect(!filter.evaluate(nr: try nr("read"), arch: 0x4000_0003, args: []).allows)
        #expect(SeccompFilter(bytes: [0x15, 0, 0, 0, 0, 0, 0, 0]).evaluate(nr: 0, arch: arch, args: []).action == SeccompFilter.Verdict.killProcess)
        // The notifying program differs only where the original returns an errno.
        let notifying = filter.notifyingInsteadOf(action: SeccompFilter.Verdict.errno)
        #expect(notifying.evaluate(nr: try nr("mount"), arch: arch, args: []).action == SeccompFilter.Verdict.userNotification)
        #expect(notifying.evaluate(nr: try nr("read"), arch: arch, args: []).allows)
        #expect(filter.allowsListenerHandOver)
    }

    // MARK: wu profile learn

    @Test(.enabled(if: isRoot)) func learnedProfileRunsTheCommandAndIsNarrowerThanDefault() async throws {
        let h = try Harness("learn")
        defer { h.close() }
        let base = try SandboxProfile.load(named: "default")
        let command = ["/bin/sh", "-c", "ls; cat /etc/hostname"]
        let learning = try await ProfileLearning.learn(
            SandboxRequest(command: command, limits: .init(wallTimeMs: 30_000)),
            base: base,
            cap: h.cap,
            name: "shls",
            description: "test"
        )
        #expect(learning.usage.exitCode == 0, "\(learning.usage.stderrTail)")
        #expect(learning.observed.contains { $0.name == "execve" || $0.name == "openat" })
        #expect(learning.deniedByBase.isEmpty)
        // Written and read back as a file, it runs the same command.
        let dir = try h.directory("profiles")
        try FileSystem.writeFile(dir + "/shls.json", Array(learning.profile.jsonText.utf8))
        let learned = try SandboxProfile.load(named: "shls", directory: dir)
        let sandbox = try Sandbox(profile: learned, cap: h.cap)
        let r = try await sandbox.run(SandboxRequest(command: command, limits: .init(wallTimeMs: 30_000)))
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(r.usage.stdoutTail.hasSuffix("wu\n"))
        #expect(r.usage.deniedSyscalls.isEmpty, "\(r.usage.deniedSyscalls)")
        // Narrower than default: it grants nothing beyond it, and default grants more.
        #expect(learned.isNoWider(than: base))
        #expect(!base.isNoWider(than: learned))
        #expect(ProfileDiff(base, learned).text.contains("shls grants beyond default:\n  nothing"))
        // A control: python's imports need calls that the learned profile denies.
        let python = try await sandbox.run(SandboxRequest(command: ["python3", "-c", "import socket; socket.socket()"], limits: .init(wallTimeMs: 30_000)))
        #expect(python.usage.exitCode != 0)
        #expect(!python.usage.deniedSyscalls.isEmpty)
    }

    @Test(.enabled(if: isRoot)) func learningNeverAddsWhatTheBaseDenies() async throws {
        let h = try Harness("learn-denied")
        defer { h.close() }
        let base = try SandboxProfile.load(named: "default")
        let program = Harness.pythonPrelude + "out('mount', sc(165, 0, 0, 0, 0, 0))\n"
        let learning = try await ProfileLearning.learn(
            SandboxRequest(command: ["python3", "-c", program], limits: .init(wallTimeMs: 30_000)),
            base: base,
            cap: h.cap,
            name: "py",
            description: "test"
        )
        #expect(learning.usage.exitCode == 0, "\(learning.usage.stderrTail)")
        // While learning, the base's denials hold: the unit got the base's errno, not a mount.
        #expect(Harness.values(learning.usage.stdoutTail)["mount"] == E.EPERM, "\(learning.usage.stdoutTail)")
        #expect(learning.deniedByBase.contains("mount"))
        let allowed = Set(learning.profile.seccomp.syscalls.filter { $0.action == .allow }.flatMap(\.names))
        #expect(!allowed.contains("mount"))
        #expect(learning.profile.isNoWider(than: base))
    }

    @Test func profileJSONTextParsesBackToTheSameProfile() throws {
        for name in SandboxProfile.builtinNames {
            var original = try SandboxProfile.load(named: name)
            let reparsed = try SandboxProfile.parse(Array(original.jsonText.utf8), origin: "round trip")
            original.sourceBytes = reparsed.sourceBytes
            #expect(reparsed == original, "\(name)")
        }
    }
}
