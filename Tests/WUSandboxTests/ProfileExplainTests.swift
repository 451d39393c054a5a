import FoundationEssentials
import Testing

@testable import WUSandbox

@Suite struct ProfileExplainTests {
    static let fixture = ProfileFixture.json(
        mounts: #"[{"source": "/usr"}, {"source": "/opt/tool", "target": "/tool", "optional": true}]"#,
        rules: #"""
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 21522, "op": "SCMP_CMP_NE"}], "comment": "no TIOCSTI"},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            """#
    )

    @Test func explainsAFixtureLineByLine() throws {
        let explanation = ProfileExplanation(try ProfileFixture.parse(Self.fixture), origin: "fixture.json")
        #expect(
            explanation.lines == [
                "tiny: fixture",
                "  from fixture.json",
                "",
                "Always, whatever the profile: no capabilities, no_new_privs, an unprivileged host uid, no descriptor",
                "  inherited beyond 0-2, /code and /in read-only, /out and /tmp bounded, the seccomp filter installed last.",
                "",
                "Namespaces (all 7; nothing of the host's is shared):",
                "  user    own user ids: uid 1000 inside is an unprivileged host id; no capability counts on the host",
                "  pid     own process tree: sees and signals only its own processes; pid 1 is the sandbox's init",
                "  mount   own mount table: a fresh root holding only the paths below, its own /code /in /out /tmp, generated /etc files",
                "  net     own network stack with only its loopback: no host interface, no host loopback",
                "  uts     own hostname (t): the volunteer's machine name is hidden",
                "  ipc     own System V IPC and POSIX message queues: nothing of the host's is visible",
                "  cgroup  own cgroup root: the runner's and other units' cgroups are out of sight",
                "",
                "Host paths (bound read-only, nosuid, nodev; nothing else of the host's files is visible):",
                "  /usr                read-only",
                "  /opt/tool -> /tool  read-only, optional (skipped when the host lacks it)",
                "",
                "Devices: /dev/null (plus /dev/fd, /dev/std{in,out,err}, its own /dev/pts and /dev/shm)",
                "",
                "Network: none (its own loopback only; no route to the host or beyond)",
                "",
                "Resource bounds (a manifest asking for more is refused, not clipped):",
                "  cpus        at most 1 CPU of quota",
                "  memory      at most 256M, no swap",
                "  pids        at most 16 processes and threads",
                "  disk        at most 1G written to /out",
                "  wall time   at most 1m, then the unit is killed",
                "  open files  64 descriptors per process (RLIMIT_NOFILE)",
                "  /tmp        16M tmpfs, counted in the unit's memory",
                "",
                "Environment (the manifest's env and WU_* come on top; nothing of the runner's):",
                "  PATH=/usr/bin",
                "",
                "System calls: an allowlist of 4; any other call fails with EPERM (SCMP_ACT_ERRNO); 1 denied by name",
                "  (* only under the conditions listed below; ! widens the attack surface)",
                "  files (3): ioctl*, read, write",
                "    ! ioctl: reaches the driver behind every open descriptor; TIOCSTI would type into a terminal",
                "  processes (1): exit_group",
                "Allowed only under conditions:",
                "  ioctl       request != TIOCSTI  (no TIOCSTI)",
                "Denied by name:",
                "  clone3      fails with ENOSYS",
            ]
        )
    }

    @Test func groupsEveryAllowedSyscallOfTheShippedProfiles() throws {
        for name in SandboxProfile.builtinNames {
            let profile = try SandboxProfile.load(named: name)
            let explanation = ProfileExplanation(profile, origin: name)
            let listed = explanation.seccomp.groups.flatMap { $0.syscalls.map(\.name) }
            let allowed = Set(profile.seccomp.syscalls.filter { $0.action == .allow }.flatMap(\.names))
            #expect(Set(listed) == allowed)
            #expect(listed.count == allowed.count)
            // Every shipped syscall has a purpose: nothing falls into "other".
            #expect(!explanation.seccomp.groups.contains { $0.purpose == "other" }, "\(name)")
        }
    }

    @Test func riskNotesCoverTheSurfaceWideningCalls() throws {
        let explanation = ProfileExplanation(try SandboxProfile.load(named: "default"), origin: "default")
        let risky = Set(explanation.seccomp.groups.flatMap(\.syscalls).filter { $0.risk != nil }.map(\.name))
        #expect(risky.isSuperset(of: ["ioctl", "memfd_create", "socket", "setsockopt", "clone", "personality", "shmget", "splice"]))
        #expect(!risky.contains("read") && !risky.contains("getpid"))
        for dangerous in ["ptrace", "bpf", "mount", "io_uring_setup", "userfaultfd", "keyctl", "unshare", "setns", "perf_event_open"] {
            #expect(SyscallCatalog.risk(of: dangerous) != nil, "\(dangerous)")
        }
    }

    @Test func encodesAsJSON() throws {
        let explanation = ProfileExplanation(try ProfileFixture.parse(Self.fixture), origin: "fixture.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(explanation), as: UTF8.self)
        #expect(text.contains(#""name":"ioctl""#))
        #expect(text.contains(#""condition":"request != TIOCSTI""#))
        #expect(text.contains(#""read_only":true"#))
        #expect(text.contains(#""default_action":"SCMP_ACT_ERRNO""#))
    }

    @Test func loadsByNameOrFile() throws {
        let (byName, origin) = try SandboxProfile.load(reference: "strict")
        #expect(byName.name == "strict" && origin == "built-in strict.json")
        let path = ProfileTests.profileDirectory + "/default.json"
        let (byFile, fileOrigin) = try SandboxProfile.load(reference: path)
        #expect(byFile.name == "default" && fileOrigin == path)
        #expect(throws: SandboxError.self) { try SandboxProfile.load(reference: "/nonexistent/x.json") }
    }

    @Test func defaultShowsTheNetlinkRuleAndWhy() throws {
        let lines = ProfileExplanation(try SandboxProfile.load(named: "default"), origin: "default").lines
        let socket = try #require(lines.first { $0.hasPrefix("  socket ") })
        #expect(socket.contains("family & 0xFFFFFFFF == AF_NETLINK and protocol & 0xFFFFFFFF == NETLINK_ROUTE"), "\(socket)")
        #expect(socket.contains("CAP_NET_ADMIN"), "the why: \(socket)")
    }
}
