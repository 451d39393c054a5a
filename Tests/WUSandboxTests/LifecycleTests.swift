import Glibc
import Testing
import WUProtocol

@testable import WUSandbox

/// Cancellation, the runner's own death, and cgroup detection.
@Suite(.serialized) struct LifecycleTests {
    @Test(.enabled(if: isRoot, "needs root for cgroups"), arguments: SandboxMode.allCases) func cancellingTheTaskKillsTheUnit(_ mode: SandboxMode) async throws {
        let h = try Harness("cancel", mode: mode)
        defer { h.close() }
        let sandbox = try h.sandbox(SandboxProfile.load(named: "default"))
        let task = Task {
            try await sandbox.run(SandboxRequest(command: ["/bin/sh", "-c", "echo WU-MARKER; sleep 1000"], limits: .init(wallTimeMs: 60_000)))
        }
        // Long enough for the shell to print its marker even on a loaded CI machine (300 ms was not).
        try await Task.sleep(for: .seconds(2))
        task.cancel()
        let started = Monotonic.nowMs()
        let result = try await task.value
        #expect(Monotonic.nowMs() - started < 2_000)
        #expect(result.usage.stdoutTail.hasPrefix("WU-MARKER"))
        #expect(result.usage.signal == SIGKILL)
        #expect(Harness.hostProcesses(uid: result.hostUID).isEmpty)
    }

    /// The init is a copy of the runner that never execs: it must not keep the runner's
    /// descriptors (a bait file left open without close-on-exec, other units' pipes and listeners).
    @Test(.enabled(if: isRoot, "needs root for cgroups"), arguments: SandboxMode.allCases) func theInitHoldsNoneOfTheRunnersDescriptors(_ mode: SandboxMode) async throws {
        let h = try Harness("init-fds", mode: mode)
        defer { h.close() }
        let bait = h.workDir + "/bait"
        try FileSystem.writeFile(bait, Array("secret".utf8))
        let baitFD = open(bait, O_RDONLY)  // no O_CLOEXEC, on purpose
        #expect(baitFD >= 0)
        defer { close(baitFD) }
        var busy: [Int32] = [-1, -1]
        #expect(pipe(&busy) == 0)  // another descriptor of the runner's, as another unit's pipe would be
        defer { busy.forEach { close($0) } }
        let sandbox = try h.sandbox(SandboxProfile.load(named: "default"))
        let task = Task { try await sandbox.run(SandboxRequest(command: ["/bin/sleep", "3.0517"], limits: .init(wallTimeMs: 30_000))) }
        // The init: our child whose own child is this unit (other suites' units may run meanwhile),
        // once the unit runs (its setup is over).
        var initFDs: [String]? = nil
        for _ in 0..<100 where initFDs == nil {
            try await Task.sleep(for: .milliseconds(50))
            for entry in FileSystem.list("/proc") {
                guard Int32(entry) != nil, let status = FileSystem.readText("/proc/\(entry)/status"),
                    status.split(separator: "\n").contains("PPid:\t\(getpid())"),
                    let children = FileSystem.readText("/proc/\(entry)/task/\(entry)/children")?.split(separator: " ").first,
                    let cmdline = FileSystem.readFile("/proc/\(children)/cmdline"),
                    String(decoding: cmdline, as: UTF8.self) == "/bin/sleep\u{0}3.0517\u{0}"
                else { continue }
                initFDs = FileSystem.list("/proc/\(entry)/fd").compactMap { FileSystem.readLink("/proc/\(entry)/fd/" + $0) }
            }
        }
        let result = try await task.value
        #expect(result.usage.exitCode == 0 && result.usage.wallMs >= 3000, "the unit ran: \(result.usage)")
        let fds = try #require(initFDs, "the init was not found")
        #expect(!fds.contains(bait), "\(fds)")
        // Its standard descriptors and the status pipe, nothing else.
        #expect(fds.count <= 4, "\(fds)")
    }

    /// The `wu` executable next to the test bundle (SwiftPM builds it for `swift test`).
    static let wuBinary: String? = {
        guard let exe = FileSystem.readLink("/proc/self/exe") else { return nil }
        var dir = String(exe[..<exe.lastIndex(of: "/")!])
        for _ in 0..<4 {
            if FileSystem.exists(dir + "/wu"), !FileSystem.isDirectory(dir + "/wu") { return dir + "/wu" }
            dir = String(dir[..<(dir.lastIndex(of: "/") ?? dir.startIndex)])
        }
        return nil
    }()

    @Test(.enabled(if: isRoot && wuBinary != nil, "needs root and the wu executable")) func unitsDieWithTheRunner() async throws {
        let h = try Harness("pdeath")
        defer { h.close() }
        let outDir = try h.directory("out")
        var pid: pid_t = 0
        let args = [
            Self.wuBinary ?? "wu", "sandbox", "exec", "--out", outDir, "--", "/bin/sh", "-c",
            "echo s > /out/started; (setsid sleep 1000 &); sleep 1000",
        ]
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        #expect(posix_spawn(&pid, args[0], nil, nil, argv, environ) == 0)
        var st = stat()
        for _ in 0..<200 where stat(outDir + "/started", &st) != 0 { usleep(20_000) }
        #expect(stat(outDir + "/started", &st) == 0, "the unit never started")
        let unitUID = st.st_uid
        #expect(unitUID >= 0x4000_0000)
        #expect(!Harness.hostProcesses(uid: unitUID).isEmpty)  // the bait: the unit and its daemon run
        // The runner dies without any chance to clean up.
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        var left: [Int32] = []
        for _ in 0..<100 {
            left = Harness.hostProcesses(uid: unitUID)
            if left.isEmpty { break }
            usleep(20_000)
        }
        #expect(left.isEmpty, "processes of the unit survived the runner: \(left)")
        // The dead runner could not remove its unit cgroup; a restarting runner sweeps it. Do so here.
        if let exec = try? VolunteerCap.shared(name: "exec"), let g = exec.cgroup {
            for d in g.directories {
                for child in FileSystem.list(d) where child.hasPrefix("unit-") && FileSystem.isDirectory(d + "/" + child) {
                    let unit = Cgroup(hierarchy: g.hierarchy, relativePath: g.relativePath + "/" + child)
                    if unit.processes().isEmpty { rmdir(d + "/" + child) }
                }
            }
        }
    }

    /// Runs `argv` as uid/gid 65534 (setpriv) and returns its exit status and output.
    static func runAsNobody(_ argv: [String]) -> (status: Int32, output: String) {
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { return (-1, "") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        let full = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + argv
        let cArgs: [UnsafeMutablePointer<CChar>?] = full.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, full[0], &actions, nil, cArgs, environ)
        posix_spawn_file_actions_destroy(&actions)
        close(pipeFDs[1])
        defer { close(pipeFDs[0]) }
        guard rc == 0 else { return (-1, "") }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(pipeFDs[0], &buffer, buffer.count)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return ((status >> 8) & 0xff, String(decoding: output, as: UTF8.self))
    }

    static let nobodyCanRunWU: Bool = {
        guard isRoot, let wu = wuBinary, FileSystem.exists("/usr/bin/setpriv") else { return false }
        return runAsNobody(["/usr/bin/test", "-x", wu]).status == 0
    }()

    @Test(.enabled(if: nobodyCanRunWU, "needs root, setpriv, and a wu executable that uid 65534 can run"))
    func rootlessRefusesLimitsAndRunsWithNoLimits() throws {
        let wu = try #require(Self.wuBinary)
        // Without root, cgroup limits cannot be applied: a clear refusal, not a silently unlimited unit.
        let refused = Self.runAsNobody([wu, "sandbox", "exec", "--", "/bin/true"])
        #expect(refused.status == 125)
        #expect(refused.output.contains("--no-limits"))
        // Asked explicitly, it runs in an unprivileged user namespace: root inside, the caller's uid outside.
        let ran = Self.runAsNobody([
            wu, "sandbox", "exec", "--no-limits", "--", "/bin/sh", "-c",
            "echo WU-MARKER; id -u; grep CapEff /proc/self/status; cat /proc/self/uid_map",
        ])
        #expect(ran.status == 0, "\(ran.output)")
        let lines = ran.output.split(separator: "\n").map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") }
        #expect(lines.first == "WU-MARKER")
        #expect(lines.contains("0"))
        #expect(lines.contains("CapEff: 0000000000000000"))
        #expect(lines.contains("0 65534 1"))
    }

    @Test func detectsV1WithSeparateCpuAndCpuacct() throws {
        let mountinfo = """
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
            33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
            39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
            41 31 0:38 / /tmp/no\\040such/unified rw,relatime - cgroup2 cgroup2 rw
            """
        let h = try #require(CgroupHierarchy.detect(mountinfo: mountinfo))
        #expect(h.version == .v1)
        #expect(h.v1Mounts["cpu"] == "/sys/fs/cgroup/cpu")
        #expect(h.v1Mounts["cpuacct"] == "/sys/fs/cgroup/cpuacct")
        #expect(h.missingControllers.isEmpty)
        #expect(h.unifiedRoot == "/tmp/no such/unified")
        let g = Cgroup(hierarchy: h, relativePath: "wu/cap/unit-1")
        #expect(g.directories.count == 5)
        #expect(g.tasksFiles.contains("/sys/fs/cgroup/memory/wu/cap/unit-1/tasks"))
    }

    @Test func detectsCoMountedV1AndPureV2() throws {
        let comounted = """
            32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
            35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
            37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer
            39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
            """
        let v1 = try #require(CgroupHierarchy.detect(mountinfo: comounted))
        #expect(Cgroup(hierarchy: v1, relativePath: "wu/x").directories.count == 4)  // cpu,cpuacct once
        let pure = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
        let v2 = try #require(CgroupHierarchy.detect(mountinfo: pure))
        #expect(v2.version == .v2)
        #expect(Cgroup(hierarchy: v2, relativePath: "wu/x").procsFiles == ["/sys/fs/cgroup/wu/x/cgroup.procs"])
        #expect(Cgroup(hierarchy: v2, relativePath: "wu/x").tasksFiles.isEmpty)
    }

    @Test(.enabled(if: isRoot)) func doctorSeesThisMachine() async {
        let report = await SandboxDoctor.run()
        #expect(report.canRunWithoutLimits)
        #expect(report.checks.contains { $0.name == "sandbox spawn" && $0.ok })
        #expect(report.checks.contains { $0.name == "cgroup version" })
    }
}
