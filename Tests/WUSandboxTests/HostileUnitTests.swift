import Glibc
import Testing
import WUProtocol

@testable import WUSandbox

/// hostile-units.md items 1–23: each program proves it ran (`WU-MARKER`), then reports the exact
/// errno of each attempt; the bait is set up on the host first.
@Suite(.serialized) struct HostileUnitTests {
    // MARK: Reading and writing the host

    @Test(.enabled(if: isRoot, "needs root for cgroups and id maps"), arguments: SandboxMode.allCases) func item01_hostSecretsAreNotThere(_ mode: SandboxMode) async throws {
        let h = try Harness("h01", mode: mode)
        defer { h.close() }
        // Bait: a runner key and token on the host, readable by root.
        let keyDir = try h.directory("runner-keys")
        try FileSystem.writeFile(keyDir + "/runner.key", Array("SECRET-KEY".utf8), mode: 0o600)
        #expect(FileSystem.exists("/etc/shadow"))
        let (r, v) = try await h.python(
            """
            for i, p in enumerate(["/etc/shadow", "/root", "\(keyDir)/runner.key", "/home", "/work"]):
                out(f"open{i}", err(lambda: os.stat(p)))
            out("passwd", ",".join(l.split(":")[0] for l in open("/etc/passwd")))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["marker"] == "1")
        for i in 0..<5 { #expect(v["open\(i)"] == E.ENOENT, "path \(i)") }
        // /etc/passwd is the unit's own, generated: none of the host's account names.
        #expect(v["passwd"] == "root,wu,nobody")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item02_writesOutsideOutAndTmpFail(_ mode: SandboxMode) async throws {
        let h = try Harness("h02", mode: mode)
        defer { h.close() }
        let code = try h.directory("code")
        try FileSystem.writeFile(code + "/prog.txt", Array("x".utf8))
        let outDir = try h.directory("out")
        let (r, v) = try await h.python(
            """
            def w(p):
                return err(lambda: open(p, "w").write("x"))
            out("code", w("/code/prog.txt"))
            out("codenew", w("/code/new"))
            out("in", w("/in/new"))
            out("root", w("/new"))
            out("etc", w("/etc/new"))
            out("usr", w("/usr/bin/new"))
            out("outfile", w("/out/ok"))
            out("tmpfile", w("/tmp/ok"))
            """,
            out: outDir,
            code: code
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["marker"] == "1")
        for k in ["code", "codenew", "in", "root", "etc", "usr"] { #expect(v[k] == E.EROFS, "\(k)") }
        // Control: the writable places work.
        #expect(v["outfile"] == "0")
        #expect(v["tmpfile"] == "0")
        #expect(FileSystem.readText(code + "/prog.txt") == "x")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item03_runnerEnvironmentIsNotPassed(_ mode: SandboxMode) async throws {
        let h = try Harness("h03", mode: mode)
        defer { h.close() }
        setenv("WU_RUNNER_TOKEN", "bait-token-\(getpid())", 1)
        defer { unsetenv("WU_RUNNER_TOKEN") }
        let (r, v) = try await h.python(
            """
            out("keys", ",".join(sorted(os.environ.keys())))
            out("environ", err(lambda: open("/proc/1/environ").read()))
            cmd = open("/proc/1/cmdline", "rb").read()
            out("cmdline", "empty" if cmd.strip(b"\\0") == b"" else "leaked")
            """,
            environment: ["WU_UNIT_ID": "u1"]
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["marker"] == "1")
        #expect(v["keys"] == "HOME,LANG,LC_CTYPE,PATH,WU_UNIT_ID" || v["keys"] == "HOME,LANG,PATH,WU_UNIT_ID")
        #expect(v["environ"] == E.EACCES)
        #expect(v["cmdline"] == "empty")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item04_noInheritedDescriptors(_ mode: SandboxMode) async throws {
        let h = try Harness("h04", mode: mode)
        defer { h.close() }
        // Bait: a descriptor deliberately left open without close-on-exec.
        let bait = open("/etc/hostname", O_RDONLY)
        #expect(bait >= 3)
        defer { close(bait) }
        let (r, v) = try await h.python(
            """
            fds = []
            for fd in range(0, 4096):
                try:
                    os.fstat(fd)
                    fds.append(fd)
                except OSError:
                    pass
            out("fds", ",".join(map(str, fds)))
            out("bait", err(lambda: os.fstat(\(bait))))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["fds"] == "0,1,2")
        #expect(v["bait"] == E.EBADF)
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item05_procShowsOnlyTheSandbox(_ mode: SandboxMode) async throws {
        let h = try Harness("h05", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
            out("maxpid", max(pids))
            out("root", err(lambda: os.listdir("/proc/1/root")))
            out("host", err(lambda: os.stat("/proc/\(getpid())")))
            out("selffd", ",".join(sorted(os.readlink("/proc/self/fd/" + f) for f in os.listdir("/proc/self/fd") if int(f) < 3)))
            out("mem", err(lambda: open("/proc/1/mem", "rb")))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["marker"] == "1")
        #expect(Int(v["maxpid"] ?? "999") ?? 999 < 10)
        #expect(v["root"] == E.EACCES)
        #expect(v["host"] == E.ENOENT)
        #expect(v["mem"] == E.EACCES)
        #expect(v["selffd"]?.contains("/dev/null") == true)
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item06_procSysAndSysAreNotWritable(_ mode: SandboxMode) async throws {
        let h = try Harness("h06", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            def w(p):
                return err(lambda: open(p, "w").write("1"))
            out("hostname", w("/proc/sys/kernel/hostname"))
            out("sysrq", w("/proc/sysrq-trigger"))
            out("sys", w("/sys/kernel/profiling"))
            out("core", w("/proc/sys/kernel/core_pattern"))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["marker"] == "1")
        #expect(v["hostname"] == E.EROFS)
        // This kernel may lack CONFIG_MAGIC_SYSRQ; then the file is not there at all.
        #expect(v["sysrq"] == (FileSystem.exists("/proc/sysrq-trigger") ? E.EROFS : E.ENOENT))
        #expect(v["core"] == E.EROFS)
        #expect(v["sys"] == E.ENOENT)
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item07_cgroupFilesAreNotReachable(_ mode: SandboxMode) async throws {
        let h = try Harness("h07", mode: mode)
        defer { h.close() }
        #expect(FileSystem.exists("/sys/fs/cgroup/memory/release_agent") || FileSystem.exists("/sys/fs/cgroup/cgroup.procs"))
        let (r, v) = try await h.python(
            """
            out("release", err(lambda: open("/sys/fs/cgroup/memory/release_agent", "w")))
            out("procs", err(lambda: open("/sys/fs/cgroup/cgroup.procs", "w")))
            out("mount", sc(165, b"cgroup", b"/tmp", b"cgroup", 0, b"memory"))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["release"] == E.ENOENT)
        #expect(v["procs"] == E.ENOENT)
        #expect(v["mount"] == E.EPERM)
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item08_devicesAndMknod(_ mode: SandboxMode) async throws {
        let h = try Harness("h08", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            out("kmsg", err(lambda: open("/dev/kmsg")))
            out("mem", err(lambda: open("/dev/mem")))
            out("vda", err(lambda: open("/dev/vda")))
            out("sda", err(lambda: open("/dev/sda")))
            out("mknod", err(lambda: os.mknod("/tmp/mem", 0o600 | 0o020000, os.makedev(1, 1))))
            out("null", err(lambda: open("/dev/null", "w").write("x")))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        for k in ["kmsg", "mem", "vda", "sda"] { #expect(v[k] == E.ENOENT, "\(k)") }
        #expect(v["mknod"] == E.EPERM)
        #expect(v["null"] == "0")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item09_symlinksInOutAreNotFollowed(_ mode: SandboxMode) async throws {
        let h = try Harness("h09", mode: mode)
        defer { h.close() }
        let outDir = try h.directory("out")
        let (r, v) = try await h.python(
            """
            os.symlink("/usr/bin/python3", "/out/link")
            os.symlink("/etc", "/out/dir")
            open("/out/real", "w").write("12345")
            out("made", 1)
            """,
            out: outDir
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["made"] == "1")
        // The runner's accounting of /out does not follow the links out of it.
        #expect(r.usage.outputBytes == 5)
        #expect(FileSystem.isSymlink(outDir + "/link"))
    }

    // MARK: Privilege

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item10_noCapabilities(_ mode: SandboxMode) async throws {
        let h = try Harness("h10", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            for line in open("/proc/self/status"):
                k, _, val = line.partition(":")
                if k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
                    out(k, val.strip())
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] { #expect(v[k] == "0000000000000000", "\(k)") }
        #expect(v["NoNewPrivs"] == "1")
        #expect(v["Seccomp"] == "2")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item11_setuidBinaryRunsWithoutPrivilege(_ mode: SandboxMode) async throws {
        let h = try Harness("h11", mode: mode)
        defer { h.close() }
        let code = try h.directory("code")
        let id = try #require(FileSystem.readFile("/usr/bin/id"))
        try FileSystem.writeFile(code + "/suid-id", id, mode: 0o755)
        #expect(chown(code + "/suid-id", 0, 0) == 0)
        #expect(chmod(code + "/suid-id", 0o4755) == 0)
        var st = stat()
        stat(code + "/suid-id", &st)
        #expect(st.st_mode & S_ISUID != 0)  // the bait really is setuid root
        let (r, v) = try await h.python(
            """
            import subprocess
            out("euid", subprocess.run(["/code/suid-id", "-u"], capture_output=True, text=True).stdout.strip())
            """,
            code: code
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["euid"] == "\(Sandbox.unitUID)")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item12_mountFamilyDenied(_ mode: SandboxMode) async throws {
        let h = try Harness("h12", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            out("mount", sc(165, b"none", b"/tmp", b"tmpfs", 0, 0))
            out("umount2", sc(166, b"/proc", 2))
            out("pivot_root", sc(155, b"/tmp", b"/tmp"))
            out("chroot", sc(161, b"/tmp"))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        for k in ["mount", "umount2", "pivot_root", "chroot"] { #expect(v[k] == E.EPERM, "\(k)") }
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item13_noNewNamespaces(_ mode: SandboxMode) async throws {
        let h = try Harness("h13", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            out("unshare_user", sc(272, 0x10000000))
            out("unshare_net", sc(272, 0x40000000))
            out("clone_newns", sc(56, 0x00020000 | 17, 0, 0, 0, 0))
            out("clone3", sc(435, 0, 0))
            fd = os.open("/proc/self/ns/net", os.O_RDONLY)
            out("setns", sc(308, fd, 0))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["unshare_user"] == E.EPERM)
        #expect(v["unshare_net"] == E.EPERM)
        #expect(v["clone_newns"] == E.EPERM)
        #expect(v["clone3"] == E.ENOSYS)
        #expect(v["setns"] == E.EPERM)
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item14_noPtraceOrProcessVM(_ mode: SandboxMode) async throws {
        let h = try Harness("h14", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            out("ptrace_attach", sc(101, 16, 1, 0, 0))
            out("ptrace_traceme", sc(101, 0, 0, 0, 0))
            buf = ctypes.create_string_buffer(8)
            out("process_vm_readv", sc(310, 1, 0, 0, 0, 0, 0))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        for k in ["ptrace_attach", "ptrace_traceme", "process_vm_readv"] { #expect(v[k] == E.EPERM, "\(k)") }
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item15_kernelAttackSurfaceDenied(_ mode: SandboxMode) async throws {
        let h = try Harness("h15", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            out("bpf", sc(321, 0, 0, 0))
            out("perf_event_open", sc(298, 0, 0, -1, -1, 0))
            out("userfaultfd", sc(323, 0))
            out("keyctl", sc(250, 0, 0, 0))
            out("add_key", sc(248, b"user", b"k", b"v", 1, -3))
            out("io_uring_setup", sc(425, 1, 0))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        for k in ["bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "io_uring_setup"] { #expect(v[k] == E.EPERM, "\(k)") }
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item16_systemCallsDenied(_ mode: SandboxMode) async throws {
        let h = try Harness("h16", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            out("init_module", sc(175, 0, 0, b""))
            out("kexec_load", sc(246, 0, 0, 0, 0))
            out("reboot", sc(169, 0xfee1dead, 672274793, 0x4321FEDC, 0))
            out("swapon", sc(167, b"/tmp/x", 0))
            ts = (ctypes.c_long * 2)(0, 0)
            out("clock_settime", sc(227, 0, ts))
            out("settimeofday", sc(164, ts, 0))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        for k in ["init_module", "kexec_load", "reboot", "swapon", "clock_settime", "settimeofday"] { #expect(v[k] == E.EPERM, "\(k)") }
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item17_noTIOCSTIAndNoTerminal(_ mode: SandboxMode) async throws {
        let h = try Harness("h17", mode: mode)
        defer { h.close() }
        // On stdin (/dev/null): a call the filter let by would get the kernel's ENOTTY, not EPERM.
        let (r, v) = try await h.python(
            """
            c = ctypes.c_char(b"x")
            out("tiocsti", sc(16, 0, 0x5412, ctypes.byref(c)))
            out("tiocsti_high", sc(16, 0, 0x100005412, ctypes.byref(c)))
            out("tty", err(lambda: open("/dev/tty")))
            out("tty_nr", open("/proc/self/stat").read().rsplit(")", 1)[1].split()[4])
            rd, wr = os.pipe()
            n = ctypes.c_int(0)
            out("fionread", sc(16, rd, 0x541B, ctypes.byref(n)))
            out("fionread_high", sc(16, rd, 0xFFFFFFFF0000541B, ctypes.byref(n)))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["marker"] == "1")
        #expect(v["tiocsti"] == E.EPERM)
        // The kernel truncates the request to TIOCSTI: the filter judges those same low 32 bits
        // (CVE-2019-10063's class), so both calls are the filter's denials, not the kernel's refusals.
        #expect(v["tiocsti_high"] == E.EPERM)
        #expect(r.usage.deniedSyscalls.contains(.init(name: "ioctl", count: 2)), "both TIOCSTI calls: \(r.usage.deniedSyscalls)")
        #expect(v["tty"] == E.ENOENT)
        #expect(v["tty_nr"] == "0")  // no controlling terminal
        // Control: other ioctls pass, with or without high bits (the kernel reads the same request).
        #expect(v["fionread"] == "0")
        #expect(v["fionread_high"] == "0")
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item18_neverHostRoot(_ mode: SandboxMode) async throws {
        let h = try Harness("h18", mode: mode)
        defer { h.close() }
        let outDir = try h.directory("out")
        let (r, v) = try await h.python(
            """
            out("map", open("/proc/self/uid_map").read().split())
            out("uid", os.getuid())
            open("/out/owned", "w").write("x")
            """,
            out: outDir
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["uid"] == "\(Sandbox.unitUID)")
        #expect(r.hostUID >= 0x4000_0000)
        var st = stat()
        #expect(stat(outDir + "/owned", &st) == 0)
        #expect(st.st_uid == r.hostUID)
        #expect(st.st_uid != 0)
        #expect(v["map"]?.contains("'0'") == true && v["map"]?.contains("'\(r.hostUID - Sandbox.unitUID)'") == true)
    }

    // MARK: Other processes and the network

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item19_hostProcessesInvisibleAndUnsignalable(_ mode: SandboxMode) async throws {
        let h = try Harness("h19", mode: mode)
        defer { h.close() }
        // Bait: a host process to signal.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("60"), nil]
        #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0)
        defer {
            kill(pid, SIGKILL)
            var st: Int32 = 0
            waitpid(pid, &st, 0)
            for a in argv { free(a) }
        }
        let (r, v) = try await h.python(
            """
            out("kill", err(lambda: os.kill(\(pid), 15)))
            out("kill_runner", err(lambda: os.kill(\(getpid()), 15)))
            out("visible", os.path.exists("/proc/\(pid)"))
            out("count", len([p for p in os.listdir("/proc") if p.isdigit()]))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["kill"] == E.ESRCH)
        #expect(v["kill_runner"] == E.ESRCH)
        #expect(v["visible"] == "False")
        #expect(Int(v["count"] ?? "99")! <= 3)
        #expect(kill(pid, 0) == 0)  // still alive
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item20_noNetworkBeyondOwnLoopback(_ mode: SandboxMode) async throws {
        let h = try Harness("h20", mode: mode)
        defer { h.close() }
        // Bait: a TCP listener on the host's loopback and a host abstract unix socket.
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(tcp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(tcp, 8)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(tcp, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        defer { close(tcp) }
        let unixName = "wu-test-\(getpid())"
        let us = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var ua = sockaddr_un()
        ua.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &ua.sun_path) { raw in
            raw[0] = 0
            for (i, b) in unixName.utf8.enumerated() { raw[i + 1] = b }
        }
        let ulen = socklen_t(MemoryLayout<sa_family_t>.size + 1 + unixName.utf8.count)
        #expect(withUnsafePointer(to: &ua) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(us, $0, ulen) } } == 0)
        listen(us, 8)
        defer { close(us) }
        let (r, v) = try await h.python(
            """
            def conn(fam, addr):
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.settimeout(3)
                return err(lambda: s.connect(addr))
            out("loopback", conn(socket.AF_INET, ("127.0.0.1", \(port))))
            out("abstract", conn(socket.AF_UNIX, "\\0\(unixName)"))
            out("remote", conn(socket.AF_INET, ("1.1.1.1", 80)))
            out("remote6", conn(socket.AF_INET6, ("2606:4700:4700::1111", 80)))
            srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
            out("own_lo", conn(socket.AF_INET, srv.getsockname()))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["loopback"] == E.ECONNREFUSED)
        #expect(v["abstract"] == E.ECONNREFUSED)
        #expect(v["remote"] == E.ENETUNREACH)
        #expect(v["remote6"] == E.ENETUNREACH)
        #expect(v["own_lo"] == "0")  // control: its own loopback is up
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item21_noRawOrPacketSockets(_ mode: SandboxMode) async throws {
        let h = try Harness("h21", mode: mode)
        defer { h.close() }
        let (r, v) = try await h.python(
            """
            out("raw", err(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)))
            out("packet", err(lambda: socket.socket(17, socket.SOCK_RAW, 0)))
            out("netlink", err(lambda: socket.socket(16, socket.SOCK_RAW, 9)))  # NETLINK_AUDIT; only NETLINK_ROUTE is allowed
            out("udp", err(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["raw"] == E.EPERM)
        #expect(v["packet"] == E.EPERM)
        #expect(v["netlink"] == E.EPERM)
        #expect(v["udp"] == "0")  // control
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item22_hostnameChangeStaysInside(_ mode: SandboxMode) async throws {
        let h = try Harness("h22", mode: mode)
        defer { h.close() }
        var before = [CChar](repeating: 0, count: 256)
        gethostname(&before, 255)
        let (r, v) = try await h.python(
            """
            out("name", os.uname().nodename)
            out("sethostname", sc(170, b"evil", 4))
            out("setdomainname", sc(171, b"evil", 4))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["name"] == "wu")
        #expect(v["sethostname"] == E.EPERM)
        #expect(v["setdomainname"] == E.EPERM)
        var after = [CChar](repeating: 0, count: 256)
        gethostname(&after, 255)
        #expect(String(cString: before) == String(cString: after))
    }

    @Test(.enabled(if: isRoot), arguments: SandboxMode.allCases) func item23_hostIPCInvisible(_ mode: SandboxMode) async throws {
        let h = try Harness("h23", mode: mode)
        defer { h.close() }
        // Bait: a System V segment and a POSIX shared memory object on the host.
        let key: key_t = 0x7775_0000 | key_t(getpid() & 0xffff)
        let shm = shmget(key, 4096, IPC_CREAT | 0o666)
        #expect(shm >= 0)
        defer { shmctl(shm, IPC_RMID, nil) }
        let posix = "/dev/shm/wu-test-\(getpid())"
        try FileSystem.writeFile(posix, Array("bait".utf8), mode: 0o666)
        defer { unlink(posix) }
        let (r, v) = try await h.python(
            """
            libc.shmget.restype = ctypes.c_int
            rc = libc.shmget(ctypes.c_int(\(key)), ctypes.c_size_t(0), ctypes.c_int(0))
            out("sysv", 0 if rc >= 0 else ctypes.get_errno())
            out("posix", err(lambda: open("\(posix)")))
            out("own", err(lambda: open("/dev/shm/own", "w").write("x")))
            out("listed", ",".join(os.listdir("/dev/shm")))
            """
        )
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        #expect(v["sysv"] == E.ENOENT)
        #expect(v["posix"] == E.ENOENT)
        // Its own /dev/shm works and holds only what it wrote; the host's never sees it.
        #expect(v["own"] == "0")
        #expect(v["listed"] == "own")
        #expect(!FileSystem.exists("/dev/shm/own"))
    }
}
