// The caller's half of a spawn: wu_sandbox_clone makes the channels and clones the init (which
// then runs child.c), wu_sandbox_configure and wu_sandbox_start hand it the two parts of its
// config (handover.c), and the error pipe says how each part went. docs/sandbox.md follows a spawn
// in order.

#include "wu_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct wu_clone_args {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
    uint64_t exit_signal;
    uint64_t stack;
    uint64_t stack_size;
    uint64_t tls;
};

static pthread_mutex_t wu_spawn_lock = PTHREAD_MUTEX_INITIALIZER;

/// How long the setup between clone and execve may take before the spawn gives up.
#define WU_SETUP_TIMEOUT_MS 60000

/// Reads arg_start, arg_end, env_start, env_end (fields 48-51 of /proc/self/stat).
static void wu_arg_env_area(uintptr_t area[4]) {
    area[0] = area[1] = area[2] = area[3] = 0;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[2048];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); // the command name may hold spaces; fields restart after it
    if (!p) return;
    p++;
    // After ')' comes field 3; we want fields 48..51.
    int field = 2;
    unsigned long long v[4] = {0, 0, 0, 0};
    while (*p && field < 51) {
        while (*p == ' ') p++;
        field++;
        char *end = p;
        unsigned long long x = strtoull(p, &end, 10);
        if (field >= 48 && field <= 51) v[field - 48] = x;
        p = end;
        while (*p && *p != ' ') p++;
    }
    if (field >= 51) {
        for (int i = 0; i < 4; i++) area[i] = (uintptr_t)v[i];
    }
}

static int wu_write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int e = errno;
    close(fd);
    if (w < 0) { errno = e; return -1; }
    if ((size_t)w != n) { errno = EIO; return -1; }
    return 0;
}

static void wu_fail(wu_spawn_result *res, int stage, int err, const char *_Nullable detail) {
    res->stage = stage;
    res->error = err;
    wu_copy_detail(res->detail, detail);
}

/// Kills the init, and with it its pid namespace, reaps it and closes its pidfd.
static void wu_abandon(int pidfd) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    siginfo_t si;
    waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
    close(pidfd);
}

/// The caller's handles on an init between clone and the unit's exec.
struct wu_handles {
    long pid;
    int pidfd;
    /// The caller's ends: the unit's part goes out on `hand_over_fd`, the listener (if any) comes
    /// back; `sync_fd` is held open until the unit has exec'd (the init checks it before it forks
    /// the unit).
    struct wu_channels ch;
};

/// Closes each end still open and marks it closed.
static void wu_close_channels(struct wu_channels *ch) {
    if (ch->error_fd >= 0) close(ch->error_fd);
    if (ch->sync_fd >= 0) close(ch->sync_fd);
    if (ch->status_fd >= 0) close(ch->status_fd);
    if (ch->hand_over_fd >= 0) close(ch->hand_over_fd);
    ch->error_fd = ch->sync_fd = ch->status_fd = ch->hand_over_fd = -1;
}

/// Fails a child that was cloned: kills and reaps it, closes every handle.
static int wu_give_up(struct wu_handles *h, wu_spawn_result *res, int stage, int err, const char *_Nullable detail) {
    wu_abandon(h->pidfd);
    wu_close_channels(&h->ch);
    wu_fail(res, stage, err, detail);
    return -1;
}

/// Makes the four channels: the caller's ends in `caller`, the init's in `init`. Returns 0, or -1
/// with errno and nothing left open.
static int wu_make_channels(struct wu_channels *caller, struct wu_channels *init) {
    int pipes[4][2];
    for (int i = 0; i < 4; i++) pipes[i][0] = pipes[i][1] = -1;
    for (int i = 0; i < 4; i++) {
        int rc = i < 3 ? pipe2(pipes[i], O_CLOEXEC) : socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pipes[i]);
        if (rc < 0) {
            int e = errno;
            for (int j = 0; j < i; j++) { close(pipes[j][0]); close(pipes[j][1]); }
            errno = e;
            return -1;
        }
    }
    // A pipe's [0] reads, its [1] writes: the init writes errors and the status, reads sync.
    *caller = (struct wu_channels){.error_fd = pipes[0][0], .sync_fd = pipes[1][1], .status_fd = pipes[2][0], .hand_over_fd = pipes[3][0]};
    *init = (struct wu_channels){.error_fd = pipes[0][1], .sync_fd = pipes[1][0], .status_fd = pipes[2][1], .hand_over_fd = pipes[3][1]};
    return 0;
}

/// Clones the init (into wu_child, which then waits for its setup). Returns 0 with `h` filled,
/// or -1 (nothing left running).
static int wu_clone_child(int namespaces, void *_Nullable *_Nonnull shared_out, struct wu_handles *h, wu_spawn_result *res) {
    h->pid = -1;
    h->pidfd = -1;
    h->ch = (struct wu_channels){.error_fd = -1, .sync_fd = -1, .status_fd = -1, .hand_over_fd = -1};

    // Made under the spawn lock, so that no other spawn's child is cloned holding them (each
    // child also closes all but its own at once).
    pthread_mutex_lock(&wu_spawn_lock);
    struct wu_channels caller, init;
    if (wu_make_channels(&caller, &init) < 0) {
        wu_fail(res, WU_STAGE_PIPE, errno, NULL);
        pthread_mutex_unlock(&wu_spawn_lock);
        return -1;
    }
    //    The region the unit's config is copied into, shared with this child only: made under the
    //    lock and kept out of every later clone (MADV_DONTFORK below), so no other sandbox's init
    //    ever maps another unit's arguments.
    void *shared = mmap(NULL, WU_SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        wu_fail(res, WU_STAGE_SHARED_MEMORY, errno, "shared config");
        wu_close_channels(&caller);
        wu_close_channels(&init);
        pthread_mutex_unlock(&wu_spawn_lock);
        return -1;
    }

    uint64_t flags = CLONE_PIDFD;
    if (namespaces & WU_NS_USER) flags |= CLONE_NEWUSER;
    if (namespaces & WU_NS_PID) flags |= CLONE_NEWPID;
    if (namespaces & WU_NS_MOUNT) flags |= CLONE_NEWNS;
    // CLONE_NEWNET neither: the child makes its network namespace itself (see wu_child).
    if (namespaces & WU_NS_UTS) flags |= CLONE_NEWUTS;
    if (namespaces & WU_NS_IPC) flags |= CLONE_NEWIPC;
    // CLONE_NEWCGROUP is not here on purpose: the child enters it after joining its cgroups.

    //    Where the runner's argv and environment strings are (the init wipes its copy). Fixed for
    //    the process's life, so read once (under the lock).
    static uintptr_t area[4];
    static int area_known = 0;
    if (!area_known) {
        wu_arg_env_area(area);
        area_known = 1;
    }

    int pidfd = -1;
    struct wu_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = flags;
    args.pidfd = (uint64_t)(uintptr_t)&pidfd;
    args.exit_signal = SIGCHLD;

    // No signal handler of the runner may run in the child between clone and the reset.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) {
        wu_close_channels(&caller);
        struct wu_child child = {
            .namespaces = namespaces, .ch = init,
            .arg_start = area[0], .arg_end = area[1], .env_start = area[2], .env_end = area[3],
            .shared = shared,
        };
        wu_child(child);
    }
    int clone_errno = errno;
    (void)madvise(shared, WU_SHARED_SIZE, MADV_DONTFORK);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_unlock(&wu_spawn_lock);

    wu_close_channels(&init);
    h->ch = caller;
    if (pid < 0) {
        munmap(shared, WU_SHARED_SIZE);
        wu_close_channels(&h->ch);
        wu_fail(res, WU_STAGE_CLONE, clone_errno, NULL);
        return -1;
    }
    *shared_out = shared;
    h->pid = pid;
    h->pidfd = pidfd;
    return 0;
}

/// Reads one message of the child's error pipe: 1 with `ce` filled, 0 at EOF (the unit exec'd),
/// -1 when nothing came within the setup timeout.
static int wu_read_child_message(int error_fd, struct wu_child_error *ce) {
    memset(ce, 0, sizeof *ce);
    size_t got = 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long deadline = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 + WU_SETUP_TIMEOUT_MS;
    while (got < sizeof *ce) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long left = deadline - ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
        if (left <= 0) return -1;
        struct pollfd pe = {.fd = error_fd, .events = POLLIN};
        int pr = poll(&pe, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return -1;
        ssize_t n = read(error_fd, (char *)ce + got, sizeof *ce - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    return got > 0 ? 1 : 0;
}

/// The end of every spawn: waits until the unit has exec'd (EOF on the error pipe) or failed,
/// takes the listener the init passes on, and moves the handles into `res`.
static int wu_finish_spawn(struct wu_handles *h, int listener_wanted, wu_spawn_result *res) {
    // Bounded: the unit's wall clock starts only once this returns, so a setup that hangs (a bind
    // of a stalled network file system, say) must not hold the caller for ever.
    struct wu_child_error ce;
    int got = wu_read_child_message(h->ch.error_fd, &ce);
    if (got < 0) return wu_give_up(h, res, WU_STAGE_EXEC, ETIMEDOUT, "the sandbox's setup did not finish within 60 s");
    if (got > 0) return wu_give_up(h, res, ce.stage ? ce.stage : WU_STAGE_INIT, ce.error ? ce.error : EIO, ce.detail);
    int listener = -1;
    if (listener_wanted && (listener = wu_receive_listener(h->ch.hand_over_fd)) < 0) {
        // The unit exec'd, but the init did not pass its listener on: it would run unwatched.
        return wu_give_up(h, res, WU_STAGE_LISTENER, errno, "the init did not pass the listener on");
    }
    res->pid = (int)h->pid;
    res->pidfd = h->pidfd;
    res->status_fd = h->ch.status_fd;
    res->listener_fd = listener;
    h->ch.status_fd = -1;
    wu_close_channels(&h->ch);
    return 0;
}

static void wu_result_init(wu_spawn_result *res) {
    memset(res, 0, sizeof *res);
    res->pid = -1;
    res->pidfd = -1;
    res->status_fd = -1;
    res->listener_fd = -1;
}

// MARK: - Prepare, then start

/// A prepared sandbox that holds nothing.
static void wu_prepared_clear(wu_prepared *p) {
    memset(p, 0, sizeof *p);
    p->pid = p->pidfd = p->status_fd = p->error_fd = p->sync_fd = p->hand_over_fd = -1;
}

/// Moves everything `p` holds into handles (and `*shared`), leaving `p` holding nothing.
static struct wu_handles wu_take_handles(wu_prepared *p, void *_Nullable *_Nonnull shared) {
    struct wu_handles h = {
        .pid = p->pid, .pidfd = p->pidfd, .ch = {.error_fd = p->error_fd, .sync_fd = p->sync_fd, .status_fd = p->status_fd, .hand_over_fd = p->hand_over_fd},
    };
    *shared = p->shared;
    wu_prepared_clear(p);
    return h;
}

int wu_sandbox_await_ready(wu_prepared *p, wu_spawn_result *res) {
    if (p->ready) return 0;
    wu_result_init(res);
    if (!p->configured) {
        wu_sandbox_discard(p);
        wu_fail(res, WU_STAGE_SYNC, EINVAL, "the sandbox was never configured (wu_sandbox_configure)");
        return -1;
    }
    struct wu_child_error ce;
    int got = wu_read_child_message(p->error_fd, &ce);
    if (got > 0 && ce.stage == WU_STAGE_READY) {
        p->ready = 1;
        return 0;
    }
    wu_sandbox_discard(p);
    if (got < 0) wu_fail(res, WU_STAGE_INIT, ETIMEDOUT, "the sandbox's setup did not finish within 60 s");
    else if (got == 0) wu_fail(res, WU_STAGE_INIT, EPIPE, "the sandbox's init ended during its setup");
    else wu_fail(res, ce.stage ? ce.stage : WU_STAGE_INIT, ce.error ? ce.error : EIO, ce.detail);
    return -1;
}

int wu_sandbox_clone(int namespaces, wu_prepared *p, wu_spawn_result *res) {
    wu_result_init(res);
    wu_prepared_clear(p);
    void *shared = NULL;
    struct wu_handles h;
    if (wu_clone_child(namespaces, &shared, &h, res) < 0) {
        if (shared) munmap(shared, WU_SHARED_SIZE);
        return -1;
    }
    p->pid = (int)h.pid;
    p->pidfd = h.pidfd;
    p->status_fd = h.ch.status_fd;
    p->error_fd = h.ch.error_fd;
    p->sync_fd = h.ch.sync_fd;
    p->hand_over_fd = h.ch.hand_over_fd;
    p->shared = shared;
    p->namespaces = namespaces;
    return 0;
}

int wu_sandbox_configure(wu_prepared *p, const wu_spawn_config *c, wu_spawn_result *res) {
    wu_result_init(res);
    const char *why = NULL;
    int stage = WU_STAGE_SYNC, err = 0;
    char path[64];
    int passed[WU_MAX_PASSED];
    int npassed = 0;
    if (p->configured || p->pidfd < 0 || !p->shared) {
        // Misuse: a live sandbox is left as it is.
        wu_fail(res, WU_STAGE_SYNC, EINVAL, "the sandbox was configured already, or discarded");
        return -1;
    }
    struct wu_arena arena = {.base = (char *)p->shared + WU_SETUP_OFFSET, .size = WU_SHARED_SIZE - WU_SETUP_OFFSET, .used = 0};
    if (c->namespaces != p->namespaces) { err = EINVAL; why = "namespaces differ from the clone's"; goto fail; }
    if (!wu_copy_setup(&arena, c, passed, &npassed)) { err = E2BIG; why = "the sandbox's mount plan does not fit its setup region"; goto fail; }
    if (c->namespaces & WU_NS_USER) {
        snprintf(path, sizeof path, "/proc/%d/uid_map", p->pid);
        if (wu_write_file(path, c->uid_map) < 0) { stage = WU_STAGE_UID_MAP; err = errno; goto fail; }
        snprintf(path, sizeof path, "/proc/%d/setgroups", p->pid);
        if (wu_write_file(path, c->setgroups) < 0) { stage = WU_STAGE_SETGROUPS_FILE; err = errno; goto fail; }
        snprintf(path, sizeof path, "/proc/%d/gid_map", p->pid);
        if (wu_write_file(path, c->gid_map) < 0) { stage = WU_STAGE_GID_MAP; err = errno; goto fail; }
    }
    if (c->cgroup_procs) {
        char num[32];
        snprintf(num, sizeof num, "%d\n", p->pid);
        for (int i = 0; i < c->cgroup_count; i++) {
            if (wu_write_file(c->cgroup_procs[i], num) < 0) { stage = WU_STAGE_CGROUP; err = errno; why = c->cgroup_procs[i]; goto fail; }
        }
    }
    if (wu_send_hand_over(p->hand_over_fd, 's', passed, npassed) < 0) { err = errno; why = "passing the setup to the sandbox"; goto fail; }
    p->configured = 1;
    return 0;
fail:;
    //    An init that failed before its setup (no network namespace left for this user, say)
    //    has said why: report that, not the broken pipe it left.
    struct wu_child_error ce;
    memset(&ce, 0, sizeof ce);
    struct pollfd pe = {.fd = p->error_fd, .events = POLLIN};
    if (p->error_fd >= 0 && poll(&pe, 1, 0) > 0 && (pe.revents & POLLIN) && read(p->error_fd, &ce, sizeof ce) == (ssize_t)sizeof ce &&
        ce.stage != WU_STAGE_READY) {
        stage = ce.stage;
        err = ce.error;
        ce.detail[sizeof ce.detail - 1] = 0;
        why = ce.detail[0] ? ce.detail : NULL;
    }
    wu_sandbox_discard(p);
    wu_fail(res, stage, err, why);
    return -1;
}

int wu_sandbox_prepare(const wu_spawn_config *c, wu_prepared *p, wu_spawn_result *res) {
    if (wu_sandbox_clone(c->namespaces, p, res) < 0) return -1;
    return wu_sandbox_configure(p, c, res);
}

int wu_sandbox_start(wu_prepared *p, const wu_spawn_config *c, wu_spawn_result *res) {
    if (wu_sandbox_await_ready(p, res) < 0) return -1;
    wu_result_init(res);
    // Consumed: everything moves to `h` (and on to `res`), nothing is left to discard twice.
    void *shared = NULL;
    struct wu_handles h = wu_take_handles(p, &shared);
    struct wu_arena arena = {.base = shared, .size = WU_SETUP_OFFSET, .used = 0};
    int passed[WU_MAX_PASSED];
    int npassed = 0;
    // The init reads the config from the start of the region.
    wu_spawn_config *u = wu_copy_unit(&arena, c, passed, &npassed);
    munmap(shared, WU_SHARED_SIZE);
    if (!u) return wu_give_up(&h, res, WU_STAGE_START, E2BIG, "the unit's arguments and environment do not fit a prepared sandbox");

    if (wu_send_hand_over(h.ch.hand_over_fd, 'u', passed, npassed) < 0) return wu_give_up(&h, res, WU_STAGE_START, errno, "passing the unit to its sandbox");
    return wu_finish_spawn(&h, c->seccomp_listener, res);
}

void wu_sandbox_discard(wu_prepared *p) {
    void *shared = NULL;
    struct wu_handles h = wu_take_handles(p, &shared);
    if (h.pidfd >= 0) wu_abandon(h.pidfd);
    wu_close_channels(&h.ch);
    if (shared) munmap(shared, WU_SHARED_SIZE);
}

const char *wu_sandbox_stage_name(int stage) {
    switch (stage) {
    case WU_STAGE_NONE: return "none";
    case WU_STAGE_PIPE: return "pipe";
    case WU_STAGE_CLONE: return "clone";
    case WU_STAGE_UID_MAP: return "uid_map";
    case WU_STAGE_GID_MAP: return "gid_map";
    case WU_STAGE_SETGROUPS_FILE: return "setgroups file";
    case WU_STAGE_CGROUP: return "join cgroup";
    case WU_STAGE_SYNC: return "setup hand-over";
    case WU_STAGE_SIGNALS: return "signals";
    case WU_STAGE_SETSID: return "setsid";
    case WU_STAGE_CGROUP_NS: return "cgroup namespace";
    case WU_STAGE_NET_NS: return "network namespace";
    case WU_STAGE_SETUP_IDS: return "setup ids";
    case WU_STAGE_MOUNT_PRIVATE: return "make / private";
    case WU_STAGE_MOUNT_ROOT: return "root tmpfs";
    case WU_STAGE_MOUNT: return "mount";
    case WU_STAGE_PIVOT_ROOT: return "pivot_root";
    case WU_STAGE_HOSTNAME: return "hostname";
    case WU_STAGE_LOOPBACK: return "loopback";
    case WU_STAGE_RLIMIT: return "rlimit";
    case WU_STAGE_CAPBSET: return "bounding set";
    case WU_STAGE_SETGROUPS: return "setgroups";
    case WU_STAGE_SETGID: return "setgid";
    case WU_STAGE_SETUID: return "setuid";
    case WU_STAGE_CAPS: return "capabilities";
    case WU_STAGE_NO_NEW_PRIVS: return "no_new_privs";
    case WU_STAGE_STDIO: return "stdio";
    case WU_STAGE_CLOSE_RANGE: return "close_range";
    case WU_STAGE_INIT: return "init";
    case WU_STAGE_FORK: return "fork";
    case WU_STAGE_CHDIR: return "chdir";
    case WU_STAGE_SECCOMP: return "seccomp";
    case WU_STAGE_EXEC: return "execve";
    case WU_STAGE_PARENT_GONE: return "parent gone";
    case WU_STAGE_LISTENER: return "seccomp listener";
    case WU_STAGE_READY: return "ready";
    case WU_STAGE_START: return "start in a prepared sandbox";
    case WU_STAGE_SHARED_MEMORY: return "shared memory";
    default: return "unknown";
    }
}

