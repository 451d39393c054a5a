// The init's half of a spawn: everything between clone3() and the unit's execve().
//
// This runs in a copy of a multi-threaded Swift process. Only async-signal-safe calls are allowed:
// no malloc, no stdio, no locks, no libcap, no glibc wrapper that talks to other threads (the
// set*id wrappers do: they signal every thread glibc thinks exists, and in the child those threads
// do not exist), so credentials are changed with raw syscalls. A failing step reports
// (stage, errno, detail) on the error pipe and exits (wu_child_fail).
//
// The order, as wu_child runs it, and why (docs/sandbox.md tells each step at length):
//
//  Before the setup arrives (runs while the caller loads the profile and claims the cgroup):
//   1. close_inherited        the init is a copy of the runner: it holds every descriptor the
//                             runner had, and it never execs, so close-on-exec would never close them.
//   2. die_with_parent        PR_SET_PDEATHSIG: a runner that dies mid-setup leaves nothing behind.
//   3. reset_signals          the runner's handlers and mask; setsid(): no controlling tty (TIOCSTI).
//   4. make_network_namespace unshare(CLONE_NEWNET) here, not at the clone: it is the costliest part
//                             of a spawn, and here it runs while the caller works (wu_sandbox_clone
//                             returns at once).
//  The setup (hand-over 's', sent once the caller has written the id maps and v2 cgroups):
//   5. wu_init_await_setup    until then our ids are unmapped; EOF means the caller gave up.
//   6. join_v1_cgroups        the init moves itself before its setup is charged, as one thread
//                             (cheaper than the caller writing cgroup.procs).
//   7. enter_cgroup_namespace only now, so that the unit's cgroup root is its own cgroup.
//   8. become_setup_ids       root of the user namespace, so files in the new root have a mapped
//                             owner; the id change clears PDEATHSIG: armed again, parent checked.
//   9. wu_make_root           / private, a tmpfs root with the plan (mounts.c), read-only, pivot_root.
//  10. set_hostname, bring_loopback_up   own UTS and network namespaces.
//  The unit (everything above is the same for every unit of a profile; a prepared sandbox waits here):
//  11. wu_init_await_unit     reports READY, receives hand-over 'u', makes the late mounts.
//  12. apply_rlimits          only lower; after the wait, since they are the unit's.
//  13. drop_bounding_set      while we still hold CAP_SETPCAP: no execve can grant a capability again.
//  14. become_unit_ids        groups, then gid, then uid last (after setuid the groups are fixed).
//  15. drop_capabilities      ambient, every set, then no_new_privs (needed by the filter).
//  16. set_stdio              the unit's 0, 1, 2, through temporaries.
//  17. close_on_exec_rest     every other descriptor closes at exec; the error pipe works till then.
//  18. become_init            non-dumpable (the unit must not read the runner's memory through
//                             /proc/1/mem), PDEATHSIG again, parent checked, sync pipe closed.
//  19. start_unit             the unit's process, vfork-style: chdir, the seccomp filter last (the
//                             setup above makes calls it denies), execve (wu_unit_main).
//  20. run_init               pass the listener on, wipe the runner's argv, forward signals, reap,
//                             report the unit's status, exit with it.

#include "wu_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// MARK: - Helpers

/// Closes every descriptor from 3 up but those in `keep` (at most 32, any order, -1 ignored).
static int wu_close_all_but(int *keep, int n) {
    for (int i = 1; i < n; i++) { // insertion sort: a handful of numbers
        int v = keep[i], j = i - 1;
        while (j >= 0 && keep[j] > v) { keep[j + 1] = keep[j]; j--; }
        keep[j + 1] = v;
    }
    unsigned int next = 3;
    for (int i = 0; i < n; i++) {
        if (keep[i] < 0 || (unsigned int)keep[i] < next) continue;
        if ((unsigned int)keep[i] > next && syscall(SYS_close_range, next, (unsigned int)keep[i] - 1, 0) < 0) return -1;
        next = (unsigned int)keep[i] + 1;
    }
    return (int)syscall(SYS_close_range, next, ~0U, 0);
}

/// Brings the loopback interface of the new network namespace up (needs CAP_NET_ADMIN there).
static int wu_loopback_up(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct ifreq req;
    memset(&req, 0, sizeof req);
    memcpy(req.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &req) < 0) { int e = errno; close(s); errno = e; return -1; }
    req.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &req) < 0) { int e = errno; close(s); errno = e; return -1; }
    close(s);
    return 0;
}

/// Looks `name` up in the `PATH` of `envp` and execs it; returns only on failure with errno set.
static void wu_execvpe(const char *name, char *const *argv, char *const *envp) {
    for (const char *p = name; *p; p++) {
        if (*p == '/') { execve(name, argv, envp); return; }
    }
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    for (char *const *e = envp; *e; e++) {
        if (strncmp(*e, "PATH=", 5) == 0) { path = *e + 5; break; }
    }
    int saved = ENOENT;
    char buf[WU_PATH_MAX];
    size_t ln = wu_strlen(name);
    while (*path) {
        const char *end = path;
        while (*end && *end != ':') end++;
        size_t ld = (size_t)(end - path);
        if (ld + ln + 2 <= sizeof buf) {
            memcpy(buf, path, ld);
            if (ld == 0) { buf[0] = '.'; ld = 1; }
            buf[ld] = '/';
            memcpy(buf + ld + 1, name, ln + 1);
            execve(buf, argv, envp);
            if (errno == EACCES) saved = EACCES;
            else if (errno != ENOENT && errno != ENOTDIR) saved = errno;
        }
        path = *end ? end + 1 : end;
    }
    errno = saved;
}

/// Fails when the caller died (it holds the sync pipe's write end open until the unit has exec'd).
static void wu_check_parent(const struct wu_child *child) {
    struct pollfd alive = {.fd = child->ch.sync_fd, .events = POLLIN};
    if (poll(&alive, 1, 0) > 0 && (alive.revents & (POLLHUP | POLLERR))) wu_child_fail(child->ch.error_fd, WU_STAGE_PARENT_GONE, EPIPE, NULL);
}

// MARK: - Before the setup

static void close_inherited(const struct wu_child *child) {
    // Other units' pipes, pidfds and seccomp listeners among them. (A copy of another spawn's
    // error pipe kept here would also stall that spawn until this unit ends.)
    int keep[4] = {child->ch.error_fd, child->ch.sync_fd, child->ch.status_fd, child->ch.hand_over_fd};
    if (wu_close_all_but(keep, 4) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_CLOSE_RANGE, errno, "close inherited");
}

static void die_with_parent(const struct wu_child *child) {
    // The thread that spawned us (the runner's unit thread). Armed again after each id change,
    // which clears it.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_SIGNALS, errno, NULL);
}

static void reset_signals(const struct wu_child *child) {
    // Handlers and mask come from the runner; the unit starts from defaults. setsid() detaches
    // from the runner's terminal: no controlling tty for TIOCSTI (docs/threat-model.md).
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        (void)sigaction(s, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_SIGNALS, errno, NULL);
    if (setsid() < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_SETSID, errno, NULL);
}

static void make_network_namespace(const struct wu_child *child) {
    // Its setup (a loopback device, hundreds of sysctl entries) would make the clone's caller wait.
    // We hold every capability in our new user namespace (as its first process), which owns it,
    // exactly as with CLONE_NEWNET.
    if ((child->namespaces & WU_NS_NET) && unshare(CLONE_NEWNET) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_NET_NS, errno, NULL);
}

// MARK: - The profile's part

static void join_v1_cgroups(const struct wu_child *child, const wu_spawn_config *c) {
    // Before our setup is charged (see cgroup_self_fds in the header).
    for (int i = 0; i < c->cgroup_self_fd_count; i++) {
        ssize_t w;
        do { w = write(c->cgroup_self_fds[i], "0\n", 2); } while (w < 0 && errno == EINTR);
        if (w != 2) wu_child_fail(child->ch.error_fd, WU_STAGE_CGROUP, w < 0 ? errno : EIO, "join own cgroup");
    }
    for (int i = 0; i < c->cgroup_self_fd_count; i++) close(c->cgroup_self_fds[i]);
}

static void enter_cgroup_namespace(const struct wu_child *child, const wu_spawn_config *c) {
    if ((c->namespaces & WU_NS_CGROUP) && unshare(CLONE_NEWCGROUP) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_CGROUP_NS, errno, NULL);
}

static void become_setup_ids(const struct wu_child *child, const wu_spawn_config *c) {
    // Root of the new user namespace (mapped to an unprivileged host id): files created in the
    // new root need a mapped owner.
    if (!(c->namespaces & WU_NS_USER)) return;
    int error_fd = child->ch.error_fd;
    if (syscall(SYS_setresgid, c->setup_gid, c->setup_gid, c->setup_gid) < 0) wu_child_fail(error_fd, WU_STAGE_SETUP_IDS, errno, "setresgid");
    if (syscall(SYS_setresuid, c->setup_uid, c->setup_uid, c->setup_uid) < 0) wu_child_fail(error_fd, WU_STAGE_SETUP_IDS, errno, "setresuid");
    // The id change cleared the parent-death signal; a prepared sandbox may wait long for its
    // unit, so arm it again now (and again in become_init).
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) wu_child_fail(error_fd, WU_STAGE_SETUP_IDS, errno, "pdeathsig");
    wu_check_parent(child);
}

static void set_hostname(const struct wu_child *child, const wu_spawn_config *c) {
    if (!(c->namespaces & WU_NS_UTS)) return;
    if (sethostname(c->hostname, wu_strlen(c->hostname)) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_HOSTNAME, errno, NULL);
    if (setdomainname("wu", 2) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_HOSTNAME, errno, "domainname");
}

static void bring_loopback_up(const struct wu_child *child, const wu_spawn_config *c) {
    if ((c->namespaces & WU_NS_NET) && c->loopback_up && wu_loopback_up() < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_LOOPBACK, errno, NULL);
}

// MARK: - The unit's part

static void apply_rlimits(const struct wu_child *child, const wu_spawn_config *c) {
    for (int i = 0; i < c->rlimit_count; i++) {
        struct rlimit rl = {.rlim_cur = c->rlimits[i].soft, .rlim_max = c->rlimits[i].hard};
        if (setrlimit(c->rlimits[i].resource, &rl) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_RLIMIT, errno, NULL);
    }
}

static void drop_bounding_set(const struct wu_child *child, const wu_spawn_config *c) {
    // Afterwards no execve (setuid binary, file capabilities) can ever grant a capability again.
    for (int cap = 0; cap <= c->cap_last_cap; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) wu_child_fail(child->ch.error_fd, WU_STAGE_CAPBSET, errno, NULL);
    }
}

static void become_unit_ids(const struct wu_child *child, const wu_spawn_config *c) {
    // Supplementary groups first (needs CAP_SETGID), then the gid, then the uid last: after
    // setuid we could no longer change the groups.
    int error_fd = child->ch.error_fd;
    if (syscall(SYS_setgroups, 0, NULL) < 0 && (c->namespaces & WU_NS_USER) == 0) wu_child_fail(error_fd, WU_STAGE_SETGROUPS, errno, NULL);
    if (syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0) wu_child_fail(error_fd, WU_STAGE_SETGID, errno, NULL);
    if (syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0) wu_child_fail(error_fd, WU_STAGE_SETUID, errno, NULL);
}

static void drop_capabilities(const struct wu_child *child) {
    // Ambient, then every set, then no_new_privs (needed by the unprivileged seccomp filter, and
    // making setuid bits in the bundle inert).
    int error_fd = child->ch.error_fd;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) wu_child_fail(error_fd, WU_STAGE_CAPS, errno, "ambient");
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) < 0) wu_child_fail(error_fd, WU_STAGE_CAPS, errno, "capset");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) wu_child_fail(error_fd, WU_STAGE_NO_NEW_PRIVS, errno, NULL);
}

static void set_stdio(const struct wu_child *child, const wu_spawn_config *c) {
    // Through temporaries, so that overlapping numbers work.
    int error_fd = child->ch.error_fd;
    int in = c->stdin_fd;
    if (in < 0) {
        in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in < 0) wu_child_fail(error_fd, WU_STAGE_STDIO, errno, "/dev/null");
    }
    int t0 = fcntl(in, F_DUPFD_CLOEXEC, 10);
    int t1 = fcntl(c->stdout_fd, F_DUPFD_CLOEXEC, 10);
    int t2 = fcntl(c->stderr_fd, F_DUPFD_CLOEXEC, 10);
    if (t0 < 0 || t1 < 0 || t2 < 0) wu_child_fail(error_fd, WU_STAGE_STDIO, errno, NULL);
    if (dup2(t0, 0) < 0 || dup2(t1, 1) < 0 || dup2(t2, 2) < 0) wu_child_fail(error_fd, WU_STAGE_STDIO, errno, NULL);
    close(t0);
    close(t1);
    close(t2);
    // The originals are copies now: the init keeps only 0, 1, 2 and its status pipe.
    if (in > 2) close(in);
    if (c->stdout_fd > 2 && c->stdout_fd != in) close(c->stdout_fd);
    if (c->stderr_fd > 2 && c->stderr_fd != in && c->stderr_fd != c->stdout_fd) close(c->stderr_fd);
}

static void close_on_exec_rest(const struct wu_child *child) {
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_CLOSE_RANGE, errno, NULL);
}

static void become_init(const struct wu_child *child) {
    // Non-dumpable first: we are a copy of the runner's memory, and the unit (same uid) must not
    // read it through /proc/1/mem. The uid change cleared the parent-death signal: arm it again,
    // then check the parent did not die in between.
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_INIT, errno, "dumpable");
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_INIT, errno, "pdeathsig");
    wu_check_parent(child);
    close(child->ch.sync_fd);
}

// MARK: - The unit's process and the init

/// What the unit's process needs from the init's frame (shared memory: CLONE_VM).
struct wu_unit_start {
    const wu_spawn_config *c;
    int error_fd;
    sigset_t forwarded;
    /// Written by the unit's process: its filter's listener (in the shared descriptor table).
    volatile int listener;
};

/// The unit's process: default signals, working directory, the seccomp filter last (it must
/// still allow execve), then execve. Runs on its own small stack in the init's memory.
static int wu_unit_main(void *arg) {
    struct wu_unit_start *u = arg;
    const wu_spawn_config *c = u->c;
    sigprocmask(SIG_UNBLOCK, &u->forwarded, NULL);
    if (chdir(c->cwd) < 0) wu_child_fail(u->error_fd, WU_STAGE_CHDIR, errno, c->cwd);
    u->listener = wu_install_filter(c, u->error_fd);
    wu_execvpe(c->argv[0], (char *const *)c->argv, (char *const *)c->envp);
    wu_child_fail(u->error_fd, WU_STAGE_EXEC, errno, c->argv[0]);
}

/// Starts the unit's process and returns its pid once it has exec'd (or died).
static pid_t start_unit(const struct wu_child *child, const wu_spawn_config *c, struct wu_unit_start *start) {
    // SIGTERM/SIGINT/SIGHUP blocked until the unit's pid is known, so forwarding never misses.
    sigemptyset(&start->forwarded);
    sigaddset(&start->forwarded, SIGTERM);
    sigaddset(&start->forwarded, SIGINT);
    sigaddset(&start->forwarded, SIGHUP);
    sigprocmask(SIG_BLOCK, &start->forwarded, NULL);

    // Vfork-style: it borrows the init's memory until its execve (no copy of the runner's page
    // tables, no copy-on-write faults, nothing to tear down) and the init waits meanwhile. With a
    // listener it also shares the init's descriptor table until the execve (which unshares it and
    // closes the listener, close-on-exec, on the unit's side): the listener the unit's filter makes
    // thus stays with the init, which passes it on to the parent. The unit never waits for anyone,
    // and never holds its own listener (with it, it could answer its own denied calls). The stack
    // may live in this frame: the init is suspended until the unit has exec'd or died.
    start->c = c;
    start->error_fd = child->ch.error_fd;
    start->listener = -1;
    char unit_stack[32 * 1024] __attribute__((aligned(64)));
    int unit_flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (c->seccomp_listener ? CLONE_FILES : 0);
    pid_t unit = clone(wu_unit_main, unit_stack + sizeof unit_stack, unit_flags, start);
    if (unit < 0) wu_child_fail(child->ch.error_fd, WU_STAGE_FORK, errno, NULL);
    return unit;
}

/// The unit's pid as seen by the init, for the signal forwarder.
static volatile pid_t wu_unit_pid = 0;

static void wu_forward_signal(int sig) {
    int saved = errno;
    if (wu_unit_pid > 0) kill(wu_unit_pid, sig);
    errno = saved;
}

_Noreturn static void run_init(const struct wu_child *child, pid_t unit, const struct wu_unit_start *start) {
    // The error pipe now belongs to the unit alone (EOF at its exec tells the parent it started).
    close(child->ch.error_fd);
    if (child->ch.hand_over_fd >= 0) {
        if (start->listener >= 0) {
            (void)wu_send_hand_over(child->ch.hand_over_fd, 0, (const int *)&start->listener, 1); // on failure the parent sees EOF and gives up
            close(start->listener);
        }
        close(child->ch.hand_over_fd);
    }
    // /proc/1/cmdline is readable by anyone, whatever the dumpable flag: wipe the init's copy of
    // the runner's argv (it may hold a token) and environment. Only after the fork, since the
    // unit's argv may point there; the runner's own memory is untouched.
    if (child->arg_end > child->arg_start) memset((void *)child->arg_start, 0, child->arg_end - child->arg_start);
    if (child->env_end > child->env_start) memset((void *)child->env_start, 0, child->env_end - child->env_start);
    wu_unit_pid = unit;
    struct sigaction fw;
    memset(&fw, 0, sizeof fw);
    fw.sa_handler = wu_forward_signal;
    fw.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &fw, NULL);
    sigaction(SIGINT, &fw, NULL);
    sigaction(SIGHUP, &fw, NULL);
    sigprocmask(SIG_UNBLOCK, &start->forwarded, NULL);

    // Reap everything (orphans reparent to us), leave with the unit.
    int unit_status = 0;
    for (;;) {
        int st = 0;
        pid_t w = wait4(-1, &st, 0, NULL);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (w == unit) { unit_status = st; break; }
    }
    ssize_t wr;
    do { wr = write(child->ch.status_fd, &unit_status, sizeof unit_status); } while (wr < 0 && errno == EINTR);
    // Leaving pid 1 makes the kernel SIGKILL whatever the unit left in its pid namespace.
    if (WIFEXITED(unit_status)) _exit(WEXITSTATUS(unit_status));
    _exit(128 + (WIFSIGNALED(unit_status) ? WTERMSIG(unit_status) : 0));
}

// MARK: - The steps in order (see the top of this file)

_Noreturn void wu_child(struct wu_child child) {
    const struct wu_child *ch = &child;
    close_inherited(ch);
    die_with_parent(ch);
    reset_signals(ch);
    make_network_namespace(ch);

    const wu_spawn_config *c = wu_init_await_setup(ch);
    join_v1_cgroups(ch, c);
    enter_cgroup_namespace(ch, c);
    become_setup_ids(ch, c);
    wu_make_root(c, ch->ch.error_fd);
    set_hostname(ch, c);
    bring_loopback_up(ch, c);

    c = wu_init_await_unit(ch);
    apply_rlimits(ch, c);
    drop_bounding_set(ch, c);
    become_unit_ids(ch, c);
    drop_capabilities(ch);
    set_stdio(ch, c);
    close_on_exec_rest(ch);
    become_init(ch);
    struct wu_unit_start start;
    pid_t unit = start_unit(ch, c, &start);
    run_init(ch, unit, &start);
}
