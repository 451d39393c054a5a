import CSandbox
import WUProfiles

/// The files under `/etc` every unit gets, generated here rather than bound from the host:
/// programs that look up a user, a group, a service or a protocol work (CPython's `tarfile`
/// cannot even be imported without `pwd.getpwuid(0)`), and nothing of them is the host's — not
/// its account names, not its local edits. Generated text is also the same on every volunteer,
/// so honest replicas that print a service name or a user name agree.
enum UnitEtc {
    /// The unit's user inside its namespace: ``Sandbox/unitUID`` (root runs) or root (rootless,
    /// where the one mapped id is 0). Its name is `wu`, its home `/tmp` (the `HOME` it is given).
    static let unitUserName = "wu"

    /// `/etc/passwd`: root, the unit's user, nobody (what an unmapped host id shows as).
    static func passwd(unitUID: UInt32) -> String {
        var lines = ["root:x:0:0:root:/root:/bin/sh"]
        if unitUID != 0 { lines.append("\(unitUserName):x:\(unitUID):\(unitUID):wu unit:/tmp:/bin/sh") }
        lines.append("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `/etc/group`: root, the unit's group, nogroup (Debian's name for 65534).
    static func group(unitUID: UInt32) -> String {
        var lines = ["root:x:0:"]
        if unitUID != 0 { lines.append("\(unitUserName):x:\(unitUID):") }
        lines.append("nogroup:x:65534:")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Files only, so that no lookup asks a daemon or the host (glibc's default without this file
    /// is `compat` for users and DNS first for hosts). DNS has no server to reach in the unit's
    /// network namespace and fails at once.
    static let nsswitch = """
        passwd:    files
        group:     files
        shadow:    files
        hosts:     files dns
        networks:  files
        protocols: files
        services:  files
        ethers:    files
        rpc:       files
        netgroup:  files

        """

    /// `/etc/protocols`: the IP protocols programs name (Debian netbase's numbers and names).
    static let protocols = """
        ip\t0\tIP
        hopopt\t0\tHOPOPT
        icmp\t1\tICMP
        igmp\t2\tIGMP
        tcp\t6\tTCP
        udp\t17\tUDP
        ipv6\t41\tIPv6
        ipv6-route\t43\tIPv6-Route
        ipv6-frag\t44\tIPv6-Frag
        gre\t47\tGRE
        esp\t50\tIPSEC-ESP
        ah\t51\tIPSEC-AH
        ipv6-icmp\t58\tIPv6-ICMP
        ipv6-nonxt\t59\tIPv6-NoNxt
        ipv6-opts\t60\tIPv6-Opts
        sctp\t132\tSCTP
        udplite\t136\tUDPLite
        raw\t255\tRAW

        """

    /// `/etc/services`: the well-known ports programs and test suites look up by name (a subset
    /// of IANA's registry as Debian's netbase lists it).
    static let services: String = {
        let entries: [(String, Int, String, String)] = [
            ("tcpmux", 1, "tcp", ""), ("echo", 7, "tcp", ""), ("echo", 7, "udp", ""), ("discard", 9, "tcp", "sink null"),
            ("discard", 9, "udp", "sink null"), ("systat", 11, "tcp", "users"), ("daytime", 13, "tcp", ""), ("daytime", 13, "udp", ""),
            ("netstat", 15, "tcp", ""), ("qotd", 17, "tcp", "quote"), ("chargen", 19, "tcp", "ttytst source"),
            ("chargen", 19, "udp", "ttytst source"), ("ftp-data", 20, "tcp", ""), ("ftp", 21, "tcp", ""), ("ssh", 22, "tcp", ""),
            ("telnet", 23, "tcp", ""), ("smtp", 25, "tcp", "mail"), ("time", 37, "tcp", "timserver"), ("time", 37, "udp", "timserver"),
            ("whois", 43, "tcp", "nicname"), ("tacacs", 49, "tcp", ""), ("tacacs", 49, "udp", ""), ("domain", 53, "tcp", ""),
            ("domain", 53, "udp", ""), ("bootps", 67, "udp", ""), ("bootpc", 68, "udp", ""), ("tftp", 69, "udp", ""),
            ("gopher", 70, "tcp", ""), ("finger", 79, "tcp", ""), ("http", 80, "tcp", "www"), ("kerberos", 88, "tcp", "kerberos5 krb5"),
            ("kerberos", 88, "udp", "kerberos5 krb5"), ("pop3", 110, "tcp", "pop-3"), ("sunrpc", 111, "tcp", "portmapper"),
            ("sunrpc", 111, "udp", "portmapper"), ("auth", 113, "tcp", "authentication tap ident"), ("nntp", 119, "tcp", "readnews untp"),
            ("ntp", 123, "udp", ""), ("epmap", 135, "tcp", "loc-srv"), ("netbios-ns", 137, "udp", ""), ("netbios-dgm", 138, "udp", ""),
            ("netbios-ssn", 139, "tcp", ""), ("imap2", 143, "tcp", "imap"), ("snmp", 161, "tcp", ""), ("snmp", 161, "udp", ""),
            ("snmp-trap", 162, "udp", "snmptrap"), ("bgp", 179, "tcp", ""), ("irc", 194, "tcp", ""), ("ldap", 389, "tcp", ""),
            ("ldap", 389, "udp", ""), ("https", 443, "tcp", ""), ("https", 443, "udp", ""), ("microsoft-ds", 445, "tcp", ""),
            ("submissions", 465, "tcp", "ssmtp smtps urd"), ("syslog", 514, "udp", ""), ("printer", 515, "tcp", "spooler"),
            ("submission", 587, "tcp", ""), ("ipp", 631, "tcp", ""), ("ldaps", 636, "tcp", ""), ("rsync", 873, "tcp", ""),
            ("ftps", 990, "tcp", ""), ("imaps", 993, "tcp", ""), ("pop3s", 995, "tcp", ""), ("socks", 1080, "tcp", ""),
            ("openvpn", 1194, "tcp", ""), ("openvpn", 1194, "udp", ""), ("ms-sql-s", 1433, "tcp", ""), ("nfs", 2049, "tcp", ""),
            ("nfs", 2049, "udp", ""), ("mysql", 3306, "tcp", ""), ("postgresql", 5432, "tcp", "postgres"), ("x11", 6000, "tcp", "x11-0"),
            ("http-alt", 8080, "tcp", "webcache"),
        ]
        return entries.map { e in "\(e.0)\t\(e.1)/\(e.2)" + (e.3.isEmpty ? "" : "\t\(e.3)") }.joined(separator: "\n") + "\n"
    }()

    /// `/etc/hosts`: loopback and the unit's own name.
    static func hosts(hostname: String) -> String { "127.0.0.1 localhost\n::1 localhost\n127.0.1.1 \(hostname)\n" }

    /// Every generated file, by its path.
    static func files(hostname: String, unitUID: UInt32) -> [(path: String, text: String)] {
        [
            ("/etc/hostname", "\(hostname)\n"), ("/etc/hosts", hosts(hostname: hostname)), ("/etc/passwd", passwd(unitUID: unitUID)),
            ("/etc/group", group(unitUID: unitUID)), ("/etc/nsswitch.conf", nsswitch), ("/etc/services", services),
            ("/etc/protocols", protocols),
        ]
    }

    /// The mount-plan entries that write them into the unit's root; a file the profile binds
    /// itself (or under a bound `/etc`) is left to that bind.
    static func mounts(_ profile: SandboxProfile, unitUID: UInt32) -> [PlannedMount] {
        files(hostname: profile.hostname, unitUID: unitUID).filter { file in
            !profile.mounts.contains { $0.target == file.path || $0.target == "/etc" }
        }.map { .init(kind: Int32(WU_MOUNT_FILE), optional: false, target: $0.path, data: $0.text) }
    }

    /// The unit's own ptys and shared memory: a devpts instance of its own (as Docker mounts it:
    /// `/dev/ptmx` a link to its `ptmx`; no `gid=`, so a pty belongs to the group of the process
    /// that opened it, never a host group; at most 64, so one unit cannot use up the kernel's
    /// `pty.max`), the profile's part; see ``shm(bytes:)`` for the unit's.
    static let devptsMounts: [PlannedMount] = [
        .init(kind: Int32(WU_MOUNT_DEVPTS), optional: false, target: "/dev/pts", data: "newinstance,ptmxmode=0666,mode=0620,max=64"),
        .init(kind: Int32(WU_MOUNT_SYMLINK), optional: false, source: "pts/ptmx", target: "/dev/ptmx"),
    ]

    /// `/dev/shm`: a tmpfs of the unit's own (POSIX semaphores and shared memory, which Python's
    /// `multiprocessing` needs), sized like `/tmp`. Its pages are charged to the memory cgroup of
    /// the process that writes them — the unit's — so it counts in the unit's memory limit.
    static func shm(bytes: Int64) -> PlannedMount {
        .init(kind: Int32(WU_MOUNT_TMPFS_NOEXEC), optional: false, target: "/dev/shm", data: "size=\(max(bytes, 4096)),nr_inodes=4096,mode=1777")
    }
}
