#ifndef WU_SANDBOX_H
#define WU_SANDBOX_H

// CSandbox: the only C in wu. It spawns one process inside namespaces, a fresh root, no
// capabilities and a seccomp filter, and it compiles that filter (libseccomp) in the parent.
//
// Rules of this header (docs/sandbox.md, "The rules of the C code"): plain C ints, structs and pointers only; no variadic
// functions, no function-like macros, no library headers. Everything that allocates happens in
// the caller (Swift) before wu_sandbox_prepare and wu_sandbox_start; between clone and execve
// the child makes raw syscalls only.

#include <stddef.h>
#include <stdint.h>

#pragma clang assume_nonnull begin

/// The version of this interface. Bumped whenever a struct below changes.
int wu_sandbox_abi_version(void);

// MARK: - Mount plan

/// What one entry of the mount plan does inside the new root.
enum {
    /// Bind `source` (host) read-only, nosuid, nodev, recursively, at `target`.
    WU_MOUNT_BIND_RO = 1,
    /// Bind `source` (host) read-write, nosuid, nodev at `target` (`/out`, the progress file).
    WU_MOUNT_BIND_RW = 2,
    /// Mount a tmpfs at `target` with `data` as its options (`size=64m,mode=1777`), nosuid, nodev.
    WU_MOUNT_TMPFS = 3,
    /// Create a symbolic link at `target` that points to `source` (replicates `/bin -> usr/bin`).
    WU_MOUNT_SYMLINK = 4,
    /// Bind the host device node `source` at `target` (a file), nosuid, noexec.
    WU_MOUNT_DEVICE = 5,
    /// Mount a new procfs at `target` (needs the new pid namespace), nosuid, nodev, noexec.
    WU_MOUNT_PROC = 6,
    /// Bind `target` (inside the new root, already mounted) over itself read-only.
    WU_MOUNT_REMOUNT_RO = 7,
    /// Create an empty directory at `target`.
    WU_MOUNT_DIR = 8,
    /// Create the file `target` (mode 0644, in the root tmpfs) holding the text `data`
    /// (`/etc/hostname`, `/etc/hosts`).
    WU_MOUNT_FILE = 9,
    /// Attach the detached mount `fd` (wu_open_tree: a bind made by the caller in the host's mount
    /// namespace, its flags already set) at `target`, which must exist. Only in a prepared
    /// sandbox's late mounts (wu_sandbox_start), where `fd` indexes the descriptors it passes.
    WU_MOUNT_ATTACH = 10,
    /// Mount a new devpts instance at `target` with `data` as its options (`newinstance,
    /// ptmxmode=0666,…`), nosuid, noexec, but not nodev: its nodes are the ptys it serves.
    WU_MOUNT_DEVPTS = 11,
    /// Like WU_MOUNT_TMPFS, and noexec too (`/dev/shm`: shared memory, never programs).
    WU_MOUNT_TMPFS_NOEXEC = 12,
};

/// One step of the mount plan. `target` is absolute inside the sandbox.
///
/// Binds of a directory create a directory target; binds of anything else create an empty file.
typedef struct wu_mount {
    int kind;
    /// Non-zero: `source` may be missing on the host; the entry is then skipped.
    int optional;
    const char *_Nullable source;
    const char *target;
    const char *_Nullable data;
    /// WU_MOUNT_ATTACH only: the detached mount's descriptor; -1 otherwise.
    int fd;
} wu_mount;

/// One resource limit, applied with setrlimit in the child.
typedef struct wu_rlimit {
    int resource;
    uint64_t soft;
    uint64_t hard;
} wu_rlimit;

// MARK: - Spawn

/// Namespace flags, combined in `wu_spawn_config.namespaces`.
enum {
    WU_NS_USER = 1 << 0,
    WU_NS_PID = 1 << 1,
    WU_NS_MOUNT = 1 << 2,
    WU_NS_NET = 1 << 3,
    WU_NS_UTS = 1 << 4,
    WU_NS_IPC = 1 << 5,
    WU_NS_CGROUP = 1 << 6,
};

/// Everything the child needs, prepared and owned by the caller. Nothing here is freed by CSandbox.
typedef struct wu_spawn_config {
    /// The program: argv[0] is looked up in `PATH` of `envp` when it has no slash.
    const char *_Nullable const *_Nonnull argv;
    const char *_Nullable const *_Nonnull envp;
    /// Working directory inside the sandbox.
    const char *cwd;
    /// An existing, empty host directory where the new root's tmpfs is mounted (only inside the
    /// child's mount namespace; the host never sees that mount).
    const char *root_dir;
    /// Options of the root tmpfs, e.g. "size=16m,mode=0755".
    const char *root_options;
    const wu_mount *_Nullable mounts;
    int mount_count;
    const char *hostname;
    const wu_rlimit *_Nullable rlimits;
    int rlimit_count;
    /// Combination of WU_NS_*.
    int namespaces;
    /// Lines for /proc/<pid>/uid_map and gid_map, e.g. "0 1073741824 65536\n".
    const char *uid_map;
    const char *gid_map;
    /// "allow" or "deny", written to /proc/<pid>/setgroups before gid_map.
    const char *setgroups;
    /// Ids the unit runs as, inside the user namespace, and the ids the init uses for setup.
    uint32_t uid;
    uint32_t gid;
    uint32_t setup_uid;
    uint32_t setup_gid;
    /// `cgroup.procs` files the parent writes the child's pid into before it runs (v2).
    const char *_Nullable const *_Nullable cgroup_procs;
    int cgroup_count;
    /// Descriptors that become the unit's 0, 1 and 2. -1 for stdin means /dev/null.
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /// The compiled filter (struct sock_filter[]) and its length in bytes; NULL for none.
    const void *_Nullable seccomp_filter;
    size_t seccomp_filter_len;
    /// The highest capability number of this kernel (/proc/sys/kernel/cap_last_cap).
    int cap_last_cap;
    /// Non-zero: bring up `lo` in the new network namespace.
    int loopback_up;
    /// cgroup v1 `tasks` files, opened O_WRONLY by the caller: the child writes "0" (itself) into
    /// each as soon as it has them (wu_sandbox_configure passes them), before the rest of its
    /// setup; its network namespace, made before, is charged to the caller, as CLONE_NEWNET at
    /// the clone would be. Moving oneself as a single thread skips the kernel's global
    /// threadgroup lock (and the RCU grace period it costs, ~2-3 ms per unit), which writing a pid
    /// into `cgroup.procs` from the parent takes. The caller closes them after the call.
    const int *_Nullable cgroup_self_fds;
    int cgroup_self_fd_count;
    /// Non-zero: install the filter with SECCOMP_FILTER_FLAG_NEW_LISTENER and hand the listener
    /// to the caller (`wu_spawn_result.listener_fd`); the unit never holds it. The unit's process
    /// shares the init's descriptor table until its execve, the init passes the listener on
    /// (SCM_RIGHTS) once the unit has exec'd. The filter must allow execve(2) and exit_group(2),
    /// which the unit's process makes before anyone holds the listener.
    int seccomp_listener;
    /// wu_sandbox_start only: mounts made after pivot_root (paths inside the new root): the
    /// unit's /tmp (WU_MOUNT_TMPFS) and its directories (WU_MOUNT_ATTACH). Ignored elsewhere.
    const wu_mount *_Nullable late_mounts;
    int late_mount_count;
} wu_spawn_config;

/// Stages of the setup, reported with an errno when one fails.
enum {
    WU_STAGE_NONE = 0,
    WU_STAGE_PIPE = 1,
    WU_STAGE_CLONE = 2,
    WU_STAGE_UID_MAP = 3,
    WU_STAGE_GID_MAP = 4,
    WU_STAGE_SETGROUPS_FILE = 5,
    WU_STAGE_CGROUP = 6,
    WU_STAGE_SYNC = 7,
    WU_STAGE_SIGNALS = 8,
    WU_STAGE_SETSID = 9,
    WU_STAGE_CGROUP_NS = 10,
    WU_STAGE_SETUP_IDS = 11,
    WU_STAGE_MOUNT_PRIVATE = 12,
    WU_STAGE_MOUNT_ROOT = 13,
    WU_STAGE_MOUNT = 14,
    WU_STAGE_PIVOT_ROOT = 15,
    WU_STAGE_HOSTNAME = 16,
    WU_STAGE_LOOPBACK = 17,
    WU_STAGE_RLIMIT = 18,
    WU_STAGE_CAPBSET = 19,
    WU_STAGE_SETGROUPS = 20,
    WU_STAGE_SETGID = 21,
    WU_STAGE_SETUID = 22,
    WU_STAGE_CAPS = 23,
    WU_STAGE_NO_NEW_PRIVS = 24,
    WU_STAGE_STDIO = 25,
    WU_STAGE_CLOSE_RANGE = 26,
    WU_STAGE_INIT = 27,
    WU_STAGE_FORK = 28,
    WU_STAGE_CHDIR = 29,
    WU_STAGE_SECCOMP = 30,
    WU_STAGE_EXEC = 31,
    WU_STAGE_PARENT_GONE = 32,
    WU_STAGE_LISTENER = 33,
    /// Not a failure: a prepared sandbox's child reports it is ready for wu_sandbox_start.
    WU_STAGE_READY = 34,
    /// A prepared sandbox's child did not get (or could not use) the unit's part.
    WU_STAGE_START = 35,
    /// unshare(CLONE_NEWNET): the child makes its own network namespace.
    WU_STAGE_NET_NS = 36,
    /// mmap of the region shared with the init (the config is copied into it).
    WU_STAGE_SHARED_MEMORY = 37,
};

/// The outcome of wu_sandbox_start.
typedef struct wu_spawn_result {
    /// The init's pid (host pid namespace) and a pidfd for it; -1 on failure.
    int pid;
    int pidfd;
    /// A descriptor (close-on-exec) from which the unit's raw wait status (4 bytes, native
    /// endian) can be read once the init has exited; EOF without data means the init died first.
    int status_fd;
    /// With `seccomp_listener`: the filter's user-notification descriptor (close-on-exec, owned by
    /// the caller); -1 otherwise.
    int listener_fd;
    /// On failure: the WU_STAGE_* that failed and its errno.
    int stage;
    int error;
    /// On failure, the path the failing stage was working on, if any (mounts), NUL-terminated.
    char detail[256];
} wu_spawn_result;

// MARK: - Spawn: prepare, then start

/// A sandbox being set up, or set up and waiting for its unit. Owned by the caller until
/// wu_sandbox_start or wu_sandbox_discard; every field is CSandbox's.
typedef struct wu_prepared {
    int pid;
    int pidfd;
    int status_fd;
    /// The error pipe's read end: a setup failure, or READY; EOF once the unit has exec'd.
    int error_fd;
    /// The sync pipe's write end, held open until the unit has exec'd (the init checks it).
    int sync_fd;
    /// The caller's end of the hand-over socket: the setup and the unit's descriptors go out on
    /// it, the listener comes back.
    int hand_over_fd;
    /// A MAP_SHARED region, at the same address in the init, the unit's config is copied into.
    void *_Nullable shared;
    /// The WU_NS_* it was cloned into.
    int namespaces;
    /// Non-zero once wu_sandbox_configure has handed it its setup.
    int configured;
    /// Non-zero once the init has reported it waits for the unit.
    int ready;
} wu_prepared;

/// Clones a sandbox's init into the namespaces `namespaces` (WU_NS_*) and returns at once. The
/// init closes what it inherited, resets its signals, makes its network namespace (the costliest
/// part of a spawn, done while the caller makes the config) and waits for wu_sandbox_configure.
/// It dies with the calling thread (PR_SET_PDEATHSIG): call it, and configure it, from a thread
/// that outlives the unit. Returns 0, or -1 with `result` set and nothing left running.
/// Thread-safe.
int wu_sandbox_clone(int namespaces, wu_prepared *prepared, wu_spawn_result *result);

/// Hands a cloned init its setup: writes its id maps and v2 cgroups, copies the profile's part of
/// `config` (root, `mounts`, hostname, loopback, setup ids) to it and passes the v1 cgroup
/// descriptors it joins through, then returns while the init does that part (cgroup namespace,
/// the root and `mounts`, pivot_root, hostname, loopback) and waits for its unit. Only that part
/// of `config` is read: its argv, envp, cwd, rlimits, stdio, filter and late mounts are
/// wu_sandbox_start's. `config->namespaces` must be the clone's. Returns 0, or -1 with `result`
/// set, `prepared` then discarded; called twice, or after a discard, -1 with EINVAL and `prepared`
/// left as it is.
int wu_sandbox_configure(wu_prepared *prepared, const wu_spawn_config *config, wu_spawn_result *result);

/// wu_sandbox_clone into `config->namespaces`, then wu_sandbox_configure.
int wu_sandbox_prepare(const wu_spawn_config *config, wu_prepared *prepared, wu_spawn_result *result);

/// Waits until a prepared sandbox's init has done its part (at most 60 s). Returns 0, or -1 with
/// `result` set, `prepared` then discarded.
int wu_sandbox_await_ready(wu_prepared *prepared, wu_spawn_result *result);

/// Starts the unit in a prepared sandbox (waiting for it to be ready first): copies the unit's
/// part of `config` (argv, envp, cwd, rlimits, filter, listener flag, late mounts) to the init,
/// passes it stdin, stdout, stderr and each late mount's descriptor, and returns 0 once the unit
/// has called execve successfully (its init keeps running as pid 1 of the new pid namespace), or
/// -1 with `result->stage` and `result->error` (the init has then been reaped). `prepared` is
/// consumed either way. On success the caller owns `result->pidfd`, `result->status_fd` and
/// `result->listener_fd`, and must reap `result->pid` (waitid(P_PIDFD)).
int wu_sandbox_start(wu_prepared *prepared, const wu_spawn_config *config, wu_spawn_result *result);

/// Kills, reaps and frees a prepared sandbox that will not be started.
void wu_sandbox_discard(wu_prepared *prepared);

/// A detached copy (open_tree OPEN_TREE_CLONE, recursive) of the host path `path`, nosuid and
/// nodev, read-only unless `writable`: for WU_MOUNT_ATTACH. Returns a close-on-exec descriptor,
/// or -1 with errno. Needs CAP_SYS_ADMIN in the caller's mount namespace.
int wu_open_tree(const char *path, int writable);

/// A human name for a WU_STAGE_* value (static storage, never NULL).
const char *wu_sandbox_stage_name(int stage);

// MARK: - seccomp (compiled in the parent)

/// Actions of a seccomp rule or of the filter's default.
enum {
    WU_SECCOMP_ALLOW = 1,
    WU_SECCOMP_ERRNO = 2,
    WU_SECCOMP_KILL_PROCESS = 3,
    WU_SECCOMP_KILL_THREAD = 4,
    WU_SECCOMP_TRAP = 5,
    WU_SECCOMP_LOG = 6,
};

/// Comparison operators of an argument condition (OCI `SCMP_CMP_*`).
enum {
    WU_CMP_NE = 1,
    WU_CMP_LT = 2,
    WU_CMP_LE = 3,
    WU_CMP_EQ = 4,
    WU_CMP_GE = 5,
    WU_CMP_GT = 6,
    WU_CMP_MASKED_EQ = 7,
};

/// One argument condition: `arg[index] op value` (for MASKED_EQ: `(arg & value) == value_two`).
typedef struct wu_seccomp_arg {
    unsigned int index;
    int op;
    uint64_t value;
    uint64_t value_two;
} wu_seccomp_arg;

/// One rule: a syscall (resolved number) with an action and up to 6 AND-ed conditions.
typedef struct wu_seccomp_rule {
    int syscall;
    int action;
    int errno_ret;
    const wu_seccomp_arg *_Nullable args;
    int arg_count;
} wu_seccomp_rule;

/// Compiles a filter with libseccomp and exports it as BPF.
///
/// On success returns 0 and stores a malloc'ed buffer in `*out` (release with free()) and its
/// length in bytes in `*out_len`. On failure returns -1, sets `*failed_rule` to the index of the
/// rule libseccomp refused (or -1) and `*error` to a positive errno.
int wu_seccomp_compile(int default_action, int default_errno, const wu_seccomp_rule *_Nullable rules, int rule_count,
                       void *_Nullable *_Nonnull out, size_t *out_len, int *failed_rule, int *error);

// MARK: - Helpers for the parent and the tests

// MARK: - seccomp user notification (the supervisor in the parent)

/// One notification: a call the filter returned SECCOMP_RET_USER_NOTIF for, waiting for an answer.
typedef struct wu_notification {
    uint64_t id;
    /// The caller's pid in the listener's pid namespace (the host's for the runner).
    uint32_t pid;
    int32_t nr;
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t args[6];
} wu_notification;

/// Receives one notification (SECCOMP_IOCTL_NOTIF_RECV). Returns 0, or -1 with errno (ENOENT:
/// the caller died before it was read; EAGAIN/EINTR: nothing to read).
int wu_notify_receive(int listener, wu_notification *notification);

/// Answers notification `id` (SECCOMP_IOCTL_NOTIF_SEND): with `continue_call` non-zero the kernel
/// runs the call as if allowed (only for `wu profile learn`, never under a profile's rules);
/// otherwise the call fails with the positive errno `error`. Returns 0, or -1 with errno (ENOENT:
/// the caller is gone, which is not an error for the supervisor).
int wu_notify_respond(int listener, uint64_t id, int error, int continue_call);

/// Writes the name of syscall `nr` on `arch` (an AUDIT_ARCH_* value) into `buffer`. Returns 0, or
/// -1 when libseccomp does not know it (the buffer then holds "syscall-<nr>").
int wu_seccomp_syscall_name(uint32_t arch, int nr, char *buffer, size_t size);

/// The AUDIT_ARCH_* value of the native architecture (what seccomp_data.arch holds for it).
uint32_t wu_seccomp_native_arch(void);

/// The version of the libseccomp in use, major·10000 + minor·100 + micro (part of the key of
/// compiled filters: another libseccomp may compile a rule differently).
int wu_seccomp_library_version(void);

/// Reads the capability sets of the calling process with libcap, as `cap_to_text` would print
/// them, into `buffer`. Returns 0, or -1 with errno set.
int wu_caps_describe_self(char *buffer, size_t size);

/// Whether the kernel supports seccomp filters (1), and user notification (2 | 1); 0 if neither.
int wu_seccomp_kernel_support(void);

/// A pidfd for `pid` (pidfd_open), or -1 with errno.
int wu_pidfd_open(int pid);

/// Sends `signal` through a pidfd (pidfd_send_signal). Returns 0, or -1 with errno.
int wu_pidfd_send_signal(int pidfd, int signal);

/// Reaps the process behind `pidfd` without blocking (waitid(P_PIDFD, WEXITED|WNOHANG)).
/// Returns 1 and the raw wait status in `*status` when it had exited, 0 when it still runs,
/// -1 with errno on error.
int wu_pidfd_reap(int pidfd, int *status);

/// pipe2(fds, O_CLOEXEC). Returns 0, or -1 with errno.
int wu_pipe_cloexec(int *fds);

/// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK). Returns the descriptor, or -1 with errno.
int wu_eventfd(void);

/// Raw wait-status helpers (the W* macros are not importable into Swift).
int wu_wifexited(int status);
int wu_wexitstatus(int status);
int wu_wifsignaled(int status);
int wu_wtermsig(int status);

#pragma clang assume_nonnull end

#endif
