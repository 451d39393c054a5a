/// What a reviewer needs to know about a syscall: its purpose, its argument names, and — when
/// allowing it widens the kernel surface a unit can reach — a one-line risk note.
public enum SyscallCatalog {
    /// The purposes, in the order `explain` prints them.
    public static let purposes: [(name: String, syscalls: [String])] = [
        (
            "files",
            words(
                """
                access chdir chmod chown chroot close close_range copy_file_range creat dup dup2 dup3 faccessat faccessat2 fadvise64
                fallocate fanotify_init fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchownat fcntl fdatasync fgetxattr
                flistxattr flock fremovexattr fsetxattr fstat fstatfs fsync ftruncate futimesat getcwd getdents getdents64 getxattr
                ioctl lchown lgetxattr link linkat listxattr llistxattr lremovexattr lseek lsetxattr lstat mkdir mkdirat mknod
                mknodat name_to_handle_at newfstatat open open_by_handle_at openat openat2 pipe pipe2 pread64 preadv preadv2
                pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv removexattr rename renameat renameat2 rmdir
                sendfile setxattr splice stat statfs statx symlink symlinkat sync sync_file_range syncfs tee truncate umask unlink unlinkat
                utime utimensat utimes vmsplice write writev
                """
            )
        ),
        (
            "memory",
            words(
                """
                brk get_mempolicy madvise mbind membarrier memfd_create memfd_secret migrate_pages mincore mlock mlock2 mlockall
                mmap move_pages mprotect mremap msync munlock munlockall munmap pkey_alloc pkey_free pkey_mprotect process_madvise
                process_mrelease remap_file_pages set_mempolicy userfaultfd
                """
            )
        ),
        (
            "processes",
            words(
                """
                arch_prctl clone clone3 execve execveat exit exit_group fork get_robust_list getpgid getpgrp getpid getppid
                getpriority getrlimit getrusage getsid gettid ioprio_get ioprio_set kcmp personality pidfd_getfd pidfd_open prctl
                prlimit64 process_vm_readv process_vm_writev ptrace rseq set_robust_list set_tid_address setns setpgid setpriority
                setrlimit setsid times unshare vfork wait4 waitid futex futex_waitv
                """
            )
        ),
        (
            "scheduling",
            words(
                """
                sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr sched_getparam sched_getscheduler
                sched_rr_get_interval sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield
                """
            )
        ),
        (
            "signals",
            words(
                """
                alarm kill pause pidfd_send_signal restart_syscall rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
                rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo sigaltstack signalfd signalfd4 tgkill tkill
                """
            )
        ),
        (
            "time",
            words(
                """
                adjtimex clock_adjtime clock_getres clock_gettime clock_nanosleep clock_settime getitimer gettimeofday nanosleep
                setitimer settimeofday time timer_create timer_delete timer_getoverrun timer_gettime timer_settime timerfd_create
                timerfd_gettime timerfd_settime
                """
            )
        ),
        (
            "waiting and events",
            words(
                """
                epoll_create epoll_create1 epoll_ctl epoll_pwait epoll_pwait2 epoll_wait eventfd eventfd2 inotify_add_watch
                inotify_init inotify_init1 inotify_rm_watch poll ppoll pselect6 select
                """
            )
        ),
        (
            "networking",
            words(
                """
                accept accept4 bind connect getpeername getsockname getsockopt listen recvfrom recvmmsg recvmsg sendmmsg sendmsg
                sendto setsockopt shutdown socket socketpair
                """
            )
        ),
        (
            "IPC",
            words(
                """
                mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink msgctl msgget msgrcv msgsnd semctl semget
                semop semtimedop shmat shmctl shmdt shmget
                """
            )
        ),
        (
            "identity",
            words(
                """
                capget capset getegid geteuid getgid getgroups getresgid getresuid getuid setfsgid setfsuid setgid setgroups
                setregid setresgid setresuid setreuid setuid
                """
            )
        ),
        ("self-restriction", words("landlock_add_rule landlock_create_ruleset landlock_restrict_self seccomp")),
        ("system information", words("getcpu getrandom sysinfo syslog uname")),
        (
            "kernel and machine administration",
            words(
                """
                acct add_key bpf delete_module finit_module fsconfig fsmount fsopen fspick init_module io_uring_enter
                io_uring_register io_uring_setup iopl ioperm kexec_file_load kexec_load keyctl lookup_dcookie modify_ldt mount
                mount_setattr move_mount open_tree perf_event_open pivot_root quotactl reboot request_key setdomainname sethostname
                swapoff swapon umount2 uselib vhangup
                """
            )
        ),
    ]

    /// The purpose of `syscall`, or `other`.
    public static func purpose(of syscall: String) -> String { purposeByName[syscall] ?? "other" }

    private static let purposeByName: [String: String] = {
        var out: [String: String] = [:]
        for (purpose, names) in purposes { for n in names { out[n] = purpose } }
        return out
    }()

    /// A one-line note for syscalls whose grant widens what a unit can reach in the kernel or on the host.
    public static func risk(of syscall: String) -> String? {
        if syscall.hasPrefix("io_uring_") { return risks["io_uring_*"] }
        return risks[syscall]
    }

    private static let risks: [String: String] = {
        var r: [String: String] = [:]
        func note(_ names: String, _ text: String) { for n in words(names) { r[n] = text } }
        note("ioctl", "reaches the driver behind every open descriptor; TIOCSTI would type into a terminal")
        note("memfd_create", "anonymous in-memory files: code can be executed without ever touching the disk")
        note("execveat", "executes a descriptor (with memfd_create: fileless execution)")
        note("mlock mlock2 mlockall", "pins memory the host cannot reclaim or swap (bounded by RLIMIT_MEMLOCK)")
        note("splice tee vmsplice", "page-cache plumbing; the path of Dirty Pipe (CVE-2022-0847)")
        note("socket", "opens the kernel's network stack; only the address families its conditions admit")
        note("setsockopt getsockopt", "a large option parser in the kernel, with a history of privilege escalations")
        note(
            "msgget msgsnd msgrcv msgctl semget semop semtimedop semctl shmget shmat shmdt shmctl",
            "System V IPC objects (own IPC namespace); a common heap-spraying tool in kernel exploits"
        )
        note("mq_open mq_timedsend mq_timedreceive mq_notify mq_getsetattr mq_unlink", "POSIX message queues (own IPC namespace)")
        note("sched_setattr sched_setscheduler sched_setparam", "changes scheduling policy; real-time classes need a capability the unit lacks")
        note("prctl", "a multiplexer of process controls; the dangerous ones need capabilities the unit lacks")
        note("personality", "can turn off address-space randomisation (ADDR_NO_RANDOMIZE) unless restricted")
        note("mknod mknodat", "device nodes need CAP_MKNOD, which the unit lacks (fifos and sockets only); mounts are nodev")
        note("remap_file_pages", "deprecated, emulated in the kernel; rarely used code")
        note("sync", "a machine-wide flush: can stall the volunteer's disks")
        note("futex", "priority-inheritance futexes have a history of kernel exploits (CVE-2014-3153)")
        note("userfaultfd", "lets a process stall kernel page faults: the usual way to win a kernel race")
        note("clone", "creates processes; a CLONE_NEW* flag would create namespaces")
        note("clone3", "its flags sit behind a pointer seccomp cannot read, so no condition can restrict them")
        note("unshare", "creates namespaces: a user namespace opens kernel code otherwise reachable only by root")
        note("setns", "joins another namespace through a descriptor")
        note("ptrace", "reads and writes another process's memory and registers")
        note("process_vm_readv process_vm_writev", "reads or writes another process's memory")
        note("kcmp", "compares kernel objects of two processes; leaks kernel pointer order")
        note("pidfd_getfd", "steals a descriptor from another process")
        note(
            "mount umount2 pivot_root fsopen fsconfig fsmount fspick move_mount open_tree mount_setattr",
            "changes the mount table; with a user namespace a large, often exploited kernel surface"
        )
        note("chroot", "changes the root directory (needs CAP_SYS_CHROOT)")
        note("bpf", "loads programs into the kernel; the verifier has a long history of exploits")
        note("perf_event_open", "kernel performance events: frequent exploits and side channels")
        note("keyctl add_key request_key", "kernel keyrings are not namespaced: shared with the host")
        note("io_uring_*", "asynchronous I/O whose operations bypass seccomp; one of the most exploited kernel surfaces")
        note("init_module finit_module delete_module", "loads or removes kernel code")
        note("kexec_load kexec_file_load", "replaces the running kernel")
        note("reboot", "reboots or halts the machine")
        note("swapon swapoff quotactl acct", "machine-wide storage settings")
        note("clock_settime settimeofday clock_adjtime adjtimex", "sets the host's clock")
        note("open_by_handle_at name_to_handle_at", "file handles reach files outside the mount namespace (the 'shocker' escape)")
        note("iopl ioperm", "direct hardware I/O port access")
        note("modify_ldt", "x86 descriptor tables; past kernel bugs")
        note("syslog", "reads the kernel log: addresses and host events")
        note("lookup_dcookie vhangup uselib", "obsolete administration calls")
        note("fanotify_init fanotify_mark", "watches file access on whole mounts")
        note("mbind set_mempolicy move_pages migrate_pages", "NUMA placement; move_pages and migrate_pages touch other processes' pages")
        note("sethostname setdomainname", "changes the UTS name (the unit's own namespace)")
        return r
    }()

    /// Conventional names of the arguments seccomp conditions are written on.
    public static func argumentName(_ syscall: String, _ index: Int) -> String {
        let names: [String: [String]] = [
            "clone": ["flags", "stack", "parent_tid", "child_tid", "tls"],
            "unshare": ["flags"],
            "setns": ["fd", "nstype"],
            "ioctl": ["fd", "request", "arg"],
            "socket": ["family", "type", "protocol"],
            "socketpair": ["family", "type", "protocol", "sv"],
            "personality": ["persona"],
            "prctl": ["option", "arg2", "arg3", "arg4", "arg5"],
            "mmap": ["addr", "length", "prot", "flags", "fd", "offset"],
            "mprotect": ["addr", "length", "prot"],
            "kill": ["pid", "sig"],
            "fcntl": ["fd", "cmd", "arg"],
            "setsockopt": ["fd", "level", "optname", "optval", "optlen"],
        ]
        if let list = names[syscall], index < list.count { return list[index] }
        return "arg\(index)"
    }

    /// The `CLONE_NEW*` namespace flags (`CLONE_NEWTIME` included): what a clone filter must exclude.
    public static let cloneNamespaceFlags: UInt64 = 0x7E02_0080
    static let cloneNewUser: UInt64 = 0x1000_0000
    static let cloneThread: UInt64 = 0x0001_0000
    static let tiocsti: UInt64 = 0x5412

    static let cloneFlagNames: [(UInt64, String)] = [
        (0x80, "CLONE_NEWTIME"), (0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"), (0x800, "CLONE_SIGHAND"),
        (0x1000, "CLONE_PIDFD"), (0x2000, "CLONE_PTRACE"), (0x4000, "CLONE_VFORK"), (0x8000, "CLONE_PARENT"), (0x10000, "CLONE_THREAD"),
        (0x20000, "CLONE_NEWNS"), (0x40000, "CLONE_SYSVSEM"), (0x80000, "CLONE_SETTLS"), (0x100000, "CLONE_PARENT_SETTID"),
        (0x200000, "CLONE_CHILD_CLEARTID"), (0x400000, "CLONE_DETACHED"), (0x800000, "CLONE_UNTRACED"), (0x1000000, "CLONE_CHILD_SETTID"),
        (0x2000000, "CLONE_NEWCGROUP"), (0x4000000, "CLONE_NEWUTS"), (0x8000000, "CLONE_NEWIPC"), (0x1000_0000, "CLONE_NEWUSER"),
        (0x2000_0000, "CLONE_NEWPID"), (0x4000_0000, "CLONE_NEWNET"), (0x8000_0000, "CLONE_IO"),
    ]

    static let addressFamilies: [UInt64: String] = [
        1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET", 40: "AF_VSOCK", 38: "AF_ALG", 29: "AF_CAN",
        31: "AF_BLUETOOTH", 44: "AF_XDP",
    ]

    /// Netlink protocols (socket's third argument under AF_NETLINK).
    static let netlinkProtocols: [UInt64: String] = [
        0: "NETLINK_ROUTE", 4: "NETLINK_SOCK_DIAG", 6: "NETLINK_XFRM", 9: "NETLINK_AUDIT", 12: "NETLINK_NETFILTER",
        15: "NETLINK_KOBJECT_UEVENT", 16: "NETLINK_GENERIC",
    ]

    /// A readable form of `value` for argument `index` of `syscall` (hex, with a symbolic name when one is known).
    static func describe(_ syscall: String, _ index: Int, _ value: UInt64) -> String {
        let hex = value < 10 ? "\(value)" : "0x" + String(value, radix: 16, uppercase: true)
        switch (syscall, index) {
        case ("socket", 0), ("socketpair", 0):
            if let n = addressFamilies[value] { return n }
        case ("ioctl", 1):
            if value == tiocsti { return "TIOCSTI" }
        case ("clone", 0), ("unshare", 0):
            if value != 0, value <= 0xFFFF_FFFF {
                // In clone's flags the low byte is the exit signal (CSIGNAL); CLONE_NEWTIME exists for unshare and clone3 only.
                let names = syscall == "clone" ? cloneFlagNames.filter { $0.0 > 0xFF } : cloneFlagNames
                let parts = names.filter { value & $0.0 != 0 }
                if parts.reduce(0, { $0 | $1.0 }) == value, parts.count <= 3 { return parts.map(\.1).joined(separator: "|") }
            }
        default: break
        }
        return hex
    }

    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }
}
