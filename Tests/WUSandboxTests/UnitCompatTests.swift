import Glibc
import Testing
import WUProtocol

@testable import WUSandbox

/// What ordinary programs expect of a Unix machine, inside every unit and private to it (DESIGN.md,
/// "A unit as the program sees it"): users and groups, services and protocols, `/dev/shm`, ptys,
/// and netlink route lookups of its own network namespace. Found missing by CPython's own
/// regression tests (`make bench-compat`).
@Suite(.serialized) struct UnitCompatTests {
    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func usersGroupsServicesAndProtocolsResolve(_ mode: SandboxMode) async throws {
        let h = try Harness("c-etc", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            import pwd, grp
            out("root", pwd.getpwuid(0).pw_name)
            me = pwd.getpwuid(os.getuid())
            out("me", f"{me.pw_name}:{me.pw_uid}:{me.pw_gid}:{me.pw_dir}")
            out("group", grp.getgrgid(os.getgid()).gr_name)
            out("nobody", pwd.getpwnam("nobody").pw_uid)
            out("users", ",".join(sorted(p.pw_name for p in pwd.getpwall())))
            out("groups", ",".join(sorted(g.gr_name for g in grp.getgrall())))
            out("grouplist", os.getgrouplist(me.pw_name, me.pw_gid))
            import tarfile
            out("tarfile", "imported")
            out("http", socket.getservbyname("http", "tcp"))
            out("domain", socket.getservbyport(53, "udp"))
            out("tcp", socket.getprotobyname("tcp"))
            out("hostname", open("/etc/hostname").read().strip())
            out("hosts", open("/etc/hosts").read().replace("\\n", "|"))
            out("write_passwd", err(lambda: open("/etc/passwd", "a").write("evil::0:0::/:/bin/sh\\n")))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["root"] == "root")
        #expect(v["me"] == "wu:1000:1000:/tmp")
        #expect(v["group"] == "wu")
        #expect(v["nobody"] == "65534")
        // Exactly the generated accounts: none of the host's (daemon, postgres, …).
        #expect(v["users"] == "nobody,root,wu")
        #expect(v["groups"] == "nogroup,root,wu")
        #expect(v["grouplist"] == "[1000]")
        #expect(v["tarfile"] == "imported")
        #expect(v["http"] == "80")
        #expect(v["domain"] == "domain")
        #expect(v["tcp"] == "6")
        #expect(v["hostname"] == "wu")
        #expect(v["hosts"] == "127.0.0.1 localhost|::1 localhost|127.0.1.1 wu|")
        #expect([E.EACCES, E.EROFS].contains(v["write_passwd"]), "\(v["write_passwd"] ?? "")")  // root's file, on the read-only root
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func idNamesTheUnitsUser(_ mode: SandboxMode) async throws {
        let h = try Harness("c-id", mode: mode)
        defer { h.close() }
        let r = try await h.run(["id"])
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(r.usage.stdoutTail == "uid=1000(wu) gid=1000(wu) groups=1000(wu)\n")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func devShmIsPrivateAndCountedInMemory(_ mode: SandboxMode) async throws {
        let h = try Harness("c-shm", mode: mode)
        defer { h.close() }
        let probe = "wu-compat-\(getpid())"
        let (r, v) = try await h.python(
            """
            import multiprocessing, time
            st = os.statvfs("/dev/shm")
            out("flags", st.f_flag & (os.ST_NOSUID | os.ST_NODEV | os.ST_NOEXEC))
            lock = multiprocessing.Lock()
            out("semaphore", lock.acquire(timeout=1))
            with open("/dev/shm/\(probe)", "wb") as f:
                for _ in range(40):
                    f.write(b"x" * (1 << 20))
            time.sleep(0.3)
            out("listed", ",".join(n for n in os.listdir("/dev/shm") if not n.startswith("sem.")))
            """,
            limits: .init(memoryBytes: 256 << 20, wallTimeMs: 30_000)
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["flags"] == "14")  // ST_NOSUID | ST_NODEV | ST_NOEXEC
        #expect(v["semaphore"] == "True")
        #expect(v["listed"] == probe)
        // The 40 MiB in /dev/shm were the unit's memory, and none of it is on the host's /dev/shm.
        #expect(r.usage.peakMemoryBytes >= 40 << 20, "peak \(r.usage.peakMemoryBytes)")
        #expect(!FileSystem.exists("/dev/shm/\(probe)"))
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func devShmCannotPassTheMemoryLimit(_ mode: SandboxMode) async throws {
        let h = try Harness("c-shm-cap", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            written = 0
            try:
                with open("/dev/shm/fill", "wb") as f:
                    for _ in range(160):
                        f.write(b"x" * (1 << 20))
                        f.flush()
                        written += 1
            except OSError as e:
                out("error", e.errno)
            out("written", written)
            """,
            limits: .init(memoryBytes: 64 << 20, wallTimeMs: 30_000)
        )
        // Either the tmpfs is full (it is never larger than the unit's memory) or the unit is
        // killed by its own memory cgroup: never more than its limit.
        #expect(r.usage.oomKilled || v["error"] == E.ENOSPC, "exit \(String(describing: r.usage.exitCode)), \(v), \(r.usage.stderrTail)")
        #expect(Int(v["written"] ?? "0") ?? 0 <= 64)
        #expect(r.usage.peakMemoryBytes <= 64 << 20)
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func ptysAreTheUnitsOwn(_ mode: SandboxMode) async throws {
        let h = try Harness("c-pty", mode: mode)
        defer { h.close() }
        // A pty of the host's, open while the unit runs: it must not appear inside.
        let hostPty = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        #expect(hostPty >= 0)
        defer { close(hostPty) }
        let (r, v) = try await h.python(
            """
            import pty
            out("before", ",".join(sorted(os.listdir("/dev/pts"))))
            m, s = pty.openpty()
            out("name", os.ttyname(s))
            os.write(m, b"hi\\n")
            out("echo", os.read(s, 16).decode().strip())
            out("owner", f"{os.fstat(s).st_uid}:{os.fstat(s).st_gid}")
            out("after", ",".join(sorted(os.listdir("/dev/pts"))))
            out("ptmx", os.readlink("/dev/ptmx"))
            out("flags", os.statvfs("/dev/pts").f_flag & (os.ST_NOSUID | os.ST_NOEXEC))
            pid, fd = pty.fork()
            if pid == 0:
                os.write(1, b"child-on-pty")
                os._exit(0)
            data = b""
            while True:
                try:
                    chunk = os.read(fd, 64)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            os.waitpid(pid, 0)
            out("fork", data.decode())
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["before"] == "ptmx")
        #expect(v["name"] == "/dev/pts/0")
        #expect(v["echo"] == "hi")
        #expect(v["owner"] == "1000:1000")
        #expect(v["after"] == "0,ptmx")
        #expect(v["ptmx"] == "pts/ptmx")
        #expect(v["flags"] == "10")  // ST_NOSUID | ST_NOEXEC (not nodev: its nodes are the ptys)
        #expect(v["fork"] == "child-on-pty")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func netlinkRouteSeesOnlyTheUnitsLoopback(_ mode: SandboxMode) async throws {
        let h = try Harness("c-netlink", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            import struct
            out("interfaces", ",".join(n for _, n in socket.if_nameindex()))
            out("addrconfig", len(socket.getaddrinfo("localhost", 80, flags=socket.AI_ADDRCONFIG)) > 0)
            # Adding an address to its own lo: the kernel wants CAP_NET_ADMIN, which the unit lacks.
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
            s.bind((0, 0))
            body = struct.pack("BBBBI", socket.AF_INET, 8, 0, 0, 1) + struct.pack("HH4s", 8, 2, bytes([10, 99, 0, 1]))
            s.send(struct.pack("IHHII", 16 + len(body), 20, 1 | 4 | 0x400 | 0x200, 1, 0) + body)
            out("newaddr", -struct.unpack_from("i", s.recv(4096), 16)[0])
            for name, proto in [("sock_diag", 4), ("xfrm", 6), ("audit", 9), ("netfilter", 12), ("uevent", 15), ("generic", 16)]:
                out(name, err(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)))
            # The kernel reads the protocol as an int: upper bits do not turn audit into route.
            out("audit_high", sc(41, 16, 3, 0x100000009))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["interfaces"] == "lo")
        #expect(v["addrconfig"] == "True")
        #expect(v["newaddr"] == E.EPERM)
        for name in ["sock_diag", "xfrm", "audit", "netfilter", "uevent", "generic", "audit_high"] {
            #expect(v[name] == E.EPERM, "\(name)")
        }
        #expect(r.usage.deniedSyscalls.contains(.init(name: "socket", count: 7)), "\(r.usage.deniedSyscalls)")
    }
}
