// CSandbox: clone into namespaces, build the unit's root, drop every privilege, exec.
//
// Everything between clone3() and execve() below runs in a copy of a multi-threaded Swift
// process. Only async-signal-safe calls are allowed there: no malloc, no stdio, no locks, no
// libcap, no glibc wrapper that talks to other threads (the set*id wrappers do: they signal every
// thread glibc thinks exists, and in the child those threads do not exist), so credentials are
// changed with raw syscalls. See STYLE.md §10 for the order and the reasons, repeated inline.

#include "wu_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <stdio.h>

int wu_sandbox_abi_version(void) { return 6; }

// MARK: - Small async-signal-safe helpers (no allocation)

#define WU_PATH_MAX 4096

/// The message the child sends on failure. Smaller than PIPE_BUF, so one write is atomic.
struct wu_child_error {
    int32_t stage;
    int32_t error;
    char detail[256];
};

static size_t wu_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/// Joins `a` and `b` into `out` (size WU_PATH_MAX). Returns 0, or -1 when too long.
static int wu_join(char *out, const char *a, const char *b) {
    size_t la = wu_strlen(a), lb = wu_strlen(b);
    if (la + lb + 1 > WU_PATH_MAX) return -1;
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    out[la + lb] = 0;
    return 0;
}

static void wu_copy_detail(char *dst, const char *_Nullable src) {
    if (!src) { dst[0] = 0; return; }
    size_t n = wu_strlen(src);
    if (n > 255) n = 255;
    memcpy(dst, src, n);
    dst[n] = 0;
}

_Noreturn static void wu_child_fail(int fd, int stage, int err, const char *_Nullable detail) {
    struct wu_child_error e;
    memset(&e, 0, sizeof e);
    e.stage = stage;
    e.error = err;
    wu_copy_detail(e.detail, detail);
    ssize_t r;
    do { r = write(fd, &e, sizeof e); } while (r < 0 && errno == EINTR);
    _exit(127);
}

/// mkdir -p for `path` (absolute), each level created with `mode`. Existing levels are fine.
static int wu_mkdir_p(char *path, mode_t mode) {
    // Usually the parent exists (the plan goes top down): one syscall instead of one per level.
    if (mkdir(path, mode) == 0 || errno == EEXIST) return 0;
    if (errno != ENOENT) return -1;
    size_t n = wu_strlen(path);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] == '/' || path[i] == 0) {
            char saved = path[i];
            path[i] = 0;
            if (mkdir(path, mode) < 0 && errno != EEXIST) { path[i] = saved; return -1; }
            path[i] = saved;
        }
    }
    return 0;
}

/// Creates the parent directories of `path` and then `path` itself as an empty file.
static int wu_touch_p(char *path) {
    size_t n = wu_strlen(path);
    size_t slash = 0;
    for (size_t i = 0; i < n; i++) if (path[i] == '/') slash = i;
    if (slash > 0) {
        path[slash] = 0;
        int r = wu_mkdir_p(path, 0755);
        path[slash] = '/';
        if (r < 0) return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno != EEXIST) return -1;
    if (fd >= 0) close(fd);
    return 0;
}

static int wu_setattr(const char *path, uint64_t set, int recursive) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = set;
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof attr);
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

// MARK: - The child

/// The unit's pid as seen by the init, for the SIGTERM forwarder.
static volatile pid_t wu_unit_pid = 0;

static void wu_forward_signal(int sig) {
    int saved = errno;
    if (wu_unit_pid > 0) kill(wu_unit_pid, sig);
    errno = saved;
}

struct wu_child_fds {
    int err_w;
    int sync_r;
    int status_w;
    /// The init's end of a socketpair: its setup and its unit arrive on it (wu_sandbox_configure,
    /// wu_sandbox_start); with seccomp_listener it passes the unit's listener back once the unit
    /// has exec'd.
    int listener_sock;
    /// The runner's argument and environment strings ([start, end) in /proc/self/stat).
    uintptr_t arg_start, arg_end, env_start, env_end;
    /// Where the unit's config arrives (wu_sandbox_start): a region shared with the parent.
    void *shared;
};

/// The most descriptors one hand-over passes (wu_sandbox_configure: the v1 cgroups;
/// wu_sandbox_start: stdin, stdout, stderr and the late mounts).
#define WU_MAX_PASSED 16

/// The region shared with the init (only the pages written cost memory): the unit's config
/// (wu_sandbox_start) in its first 7 MiB, room for argv and envp as large as execve takes under a
/// 28 MiB stack limit (a quarter of it; 2 MiB by default); the profile's part (wu_sandbox_configure)
/// in the last MiB.
#define WU_SHARED_SIZE (8u << 20)
#define WU_SETUP_OFFSET (7u << 20)

/// Applies one mount-plan entry under `root` (the new root, before pivot_root).
static int wu_apply_mount(const char *root, const wu_mount *m, int err_fd) {
    char dst[WU_PATH_MAX];
    if (wu_join(dst, root, m->target) < 0) wu_child_fail(err_fd, WU_STAGE_MOUNT, ENAMETOOLONG, m->target);
    struct stat st;
    switch (m->kind) {
    case WU_MOUNT_DIR:
        if (wu_mkdir_p(dst, 0755) < 0) return -1;
        return 0;
    case WU_MOUNT_FILE: {
        if (wu_touch_p(dst) < 0) return -1;
        int fd = open(dst, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) return -1;
        const char *text = m->data ? m->data : "";
        size_t n = wu_strlen(text), done = 0;
        while (done < n) {
            ssize_t w = write(fd, text + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) { int e = w < 0 ? errno : EIO; close(fd); errno = e; return -1; }
            done += (size_t)w;
        }
        close(fd);
        return 0;
    }
    case WU_MOUNT_SYMLINK: {
        size_t n = wu_strlen(dst), slash = 0;
        for (size_t i = 0; i < n; i++) if (dst[i] == '/') slash = i;
        dst[slash] = 0;
        if (wu_mkdir_p(dst, 0755) < 0) return -1;
        dst[slash] = '/';
        if (symlink(m->source, dst) < 0 && errno != EEXIST) return -1;
        return 0;
    }
    case WU_MOUNT_TMPFS:
        if (wu_mkdir_p(dst, 0755) < 0) return -1;
        if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, m->data) < 0) return -1;
        return 0;
    // compat: the unit's own /dev/shm and /dev/pts (ABI 6).
    case WU_MOUNT_TMPFS_NOEXEC:
        if (wu_mkdir_p(dst, 0755) < 0) return -1;
        if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, m->data) < 0) return -1;
        return 0;
    case WU_MOUNT_DEVPTS:
        if (wu_mkdir_p(dst, 0755) < 0) return -1;
        if (mount("devpts", dst, "devpts", MS_NOSUID | MS_NOEXEC, m->data) < 0) return -1;
        return 0;
    case WU_MOUNT_PROC:
        if (wu_mkdir_p(dst, 0555) < 0) return -1;
        if (mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) return -1;
        return 0;
    case WU_MOUNT_REMOUNT_RO:
        if (stat(dst, &st) < 0) { if (m->optional && errno == ENOENT) return 0; return -1; }
        if (mount(dst, dst, NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
        if (wu_setattr(dst, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 1) < 0) return -1;
        return 0;
    case WU_MOUNT_BIND_RO:
    case WU_MOUNT_BIND_RW:
    case WU_MOUNT_DEVICE: {
        if (!m->source) { errno = EINVAL; return -1; }
        if (stat(m->source, &st) < 0) {
            if (m->optional && (errno == ENOENT || errno == ENOTDIR)) return 0;
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            if (wu_mkdir_p(dst, 0755) < 0) return -1;
        } else {
            if (wu_touch_p(dst) < 0) return -1;
        }
        if (mount(m->source, dst, NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
        uint64_t attrs = MOUNT_ATTR_NOSUID;
        if (m->kind == WU_MOUNT_BIND_RO) attrs |= MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV;
        if (m->kind == WU_MOUNT_BIND_RW) attrs |= MOUNT_ATTR_NODEV;
        if (m->kind == WU_MOUNT_DEVICE) attrs |= MOUNT_ATTR_NOEXEC;
        if (wu_setattr(dst, attrs, 1) < 0) return -1;
        return 0;
    }
    case WU_MOUNT_ATTACH:
        if (m->fd < 0) { errno = EBADF; return -1; }
        return (int)syscall(SYS_move_mount, m->fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0 ? -1 : 0;
    default:
        errno = EINVAL;
        return -1;
    }
}

/// What the unit's process needs from the init's frame (shared memory: CLONE_VM).
struct wu_unit_start {
    const wu_spawn_config *c;
    int err_w;
    sigset_t fwd;
    /// Written by the unit's process: its filter's listener (in the shared descriptor table).
    volatile int listener;
};

/// 10. The unit's process: default signals, working directory, the seccomp filter last (it must
///     still allow execve), then execve. Runs on its own small stack in the init's memory.
static int wu_unit_main(void *arg) {
    struct wu_unit_start *u = arg;
    const wu_spawn_config *c = u->c;
    int efd = u->err_w;
    sigprocmask(SIG_UNBLOCK, &u->fwd, NULL);
    if (chdir(c->cwd) < 0) wu_child_fail(efd, WU_STAGE_CHDIR, errno, c->cwd);
    if (c->seccomp_filter && c->seccomp_filter_len > 0) {
        struct sock_fprog prog = {
            .len = (unsigned short)(c->seccomp_filter_len / sizeof(struct sock_filter)),
            .filter = (struct sock_filter *)c->seccomp_filter,
        };
        // With a listener, a call the supervisor has taken waits only killably for its answer
        // (a signal does not turn it into EINTR); kernels before 5.19 lack the flag.
        unsigned long flags = c->seccomp_listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV : 0;
        long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        if (listener < 0 && errno == EINVAL && c->seccomp_listener)
            listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (listener < 0) wu_child_fail(efd, WU_STAGE_SECCOMP, errno, NULL);
        if (c->seccomp_listener) u->listener = (int)listener;
    }
    wu_execvpe(c->argv[0], (char *const *)c->argv, (char *const *)c->envp);
    wu_child_fail(efd, WU_STAGE_EXEC, errno, c->argv[0]);
}

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

/// Sends one hand-over on the socketpair, either way (the setup and the unit to the init, the
/// unit's listener back): `byte` and the `n` descriptors `passed` (SCM_RIGHTS). Returns 0, or -1
/// with errno.
static int wu_send_hand_over(int sock, char byte, const int *passed, int n) {
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * WU_MAX_PASSED)];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (n > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
        memcpy(CMSG_DATA(cm), passed, sizeof(int) * (size_t)n);
    }
    ssize_t w;
    do { w = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (w < 0 && errno == EINTR);
    if (w == 1) return 0;
    if (w >= 0) errno = EPIPE;
    return -1;
}

/// Receives one hand-over on the socketpair: a byte and at most `max` (≤ WU_MAX_PASSED)
/// descriptors, close-on-exec, into `got`. Returns recvmsg's result (≤ 0: EOF or an error), with
/// `*count` the descriptors received, or -1 when more came than `max` (the kernel closed the rest).
static ssize_t wu_recv_hand_over(int sock, int *got, int max, int *count) {
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * WU_MAX_PASSED)];
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)max);
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    *count = 0;
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len >= CMSG_LEN(0)) {
        *count = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        if (*count > max) *count = max;  // cannot happen: the buffer holds `max`
        memcpy(got, CMSG_DATA(cm), sizeof(int) * (size_t)*count);
    }
    if (n > 0 && (msg.msg_flags & MSG_CTRUNC)) {
        for (int i = 0; i < *count; i++) close(got[i]);
        *count = -1;
    }
    return n;
}

/// The init's receive of a hand-over from the parent (its setup, its unit): the descriptors'
/// count. EOF (the sandbox was discarded, or the parent died) ends the init quietly.
static int wu_receive_hand_over(int efd, int sock, int stage, int got[WU_MAX_PASSED]) {
    int count;
    if (wu_recv_hand_over(sock, got, WU_MAX_PASSED, &count) <= 0) _exit(0);
    if (count < 0) wu_child_fail(efd, stage, E2BIG, "too many descriptors");
    return count;
}

/// Replaces each index in `slots` (into the `count` descriptors `got`) by its descriptor. Every
/// index must be in range and used once; a negative one is kept where `optional` allows.
static void wu_resolve_indices(int efd, int stage, int *slots[], int nslots, const int got[], int count, int optional) {
    int used[WU_MAX_PASSED];
    memset(used, 0, sizeof used);
    for (int i = 0; i < nslots; i++) {
        int index = *slots[i];
        if (index < 0 && i == optional) continue;
        if (index < 0 || index >= count || used[index]) wu_child_fail(efd, stage, EBADF, "descriptor index");
        used[index] = 1;
        *slots[i] = got[index];
    }
}

/// The wait after the clone: the profile's part of the config, copied by wu_sandbox_configure
/// into the shared region once our id maps (and v2 cgroups) are written, and the cgroup v1
/// `tasks` descriptors we join through. Returns the config the setup follows up to READY.
static wu_spawn_config *wu_await_setup(int efd, int sock, void *region) {
    int got[WU_MAX_PASSED];
    int count = wu_receive_hand_over(efd, sock, WU_STAGE_SYNC, got);
    wu_spawn_config *c = region;
    if (c->cgroup_self_fd_count < 0 || c->cgroup_self_fd_count > WU_MAX_PASSED || c->cgroup_self_fd_count != count)
        wu_child_fail(efd, WU_STAGE_SYNC, EBADF, "cgroup descriptors");
    int *slots[WU_MAX_PASSED];
    int *fds = (int *)c->cgroup_self_fds;
    for (int i = 0; i < count; i++) slots[i] = &fds[i];
    wu_resolve_indices(efd, WU_STAGE_SYNC, slots, count, got, count, -1);
    return c;
}

/// The pause after pivot_root: tells the parent the sandbox is ready, waits for the
/// unit's part (its config, copied into the shared region; its descriptors, on the socket), and
/// makes the unit's late mounts. EOF instead means the sandbox was discarded. Returns the config
/// the rest of the setup follows.
static const wu_spawn_config *wu_await_unit(int efd, int sock, void *shared) {
    struct wu_child_error ready;
    memset(&ready, 0, sizeof ready);
    ready.stage = WU_STAGE_READY;
    ssize_t w;
    do { w = write(efd, &ready, sizeof ready); } while (w < 0 && errno == EINTR);
    if (w != (ssize_t)sizeof ready) _exit(127);

    int got[WU_MAX_PASSED];
    int count = wu_receive_hand_over(efd, sock, WU_STAGE_START, got);

    //    Descriptors in the copied config are indices into what was passed.
    wu_spawn_config *u = shared;
    int *slots[3 + WU_MAX_PASSED];
    int nslots = 0;
    slots[nslots++] = &u->stdin_fd;
    slots[nslots++] = &u->stdout_fd;
    slots[nslots++] = &u->stderr_fd;
    if (u->late_mount_count > WU_MAX_PASSED) wu_child_fail(efd, WU_STAGE_START, E2BIG, "too many late mounts");
    wu_mount *late = (wu_mount *)u->late_mounts;
    for (int i = 0; i < u->late_mount_count; i++) {
        if (late[i].kind == WU_MOUNT_ATTACH) slots[nslots++] = &late[i].fd;
    }
    wu_resolve_indices(efd, WU_STAGE_START, slots, nslots, got, count, 0); // stdin (slot 0) may be /dev/null
    for (int i = 0; i < u->late_mount_count; i++) {
        if (wu_apply_mount("", &late[i], efd) < 0) wu_child_fail(efd, WU_STAGE_MOUNT, errno, late[i].target);
        if (late[i].kind == WU_MOUNT_ATTACH) close(late[i].fd);
    }
    return u;
}

_Noreturn static void wu_child(int namespaces, struct wu_child_fds fds) {
    int efd = fds.err_w;

    // 0. This is a copy of the runner: it holds every descriptor the runner had at the clone,
    //    other units' pipes, pidfds and seccomp listeners among them. The init never execs, so
    //    close-on-exec would never close them: close all but ours now. (A copy of another
    //    spawn's error pipe kept here would also stall that spawn until this unit ends.)
    int keep[4] = {fds.err_w, fds.sync_r, fds.status_w, fds.listener_sock};
    if (wu_close_all_but(keep, 4) < 0) wu_child_fail(efd, WU_STAGE_CLOSE_RANGE, errno, "close inherited");

    // The init must die with the thread that spawned it (the runner's unit thread): if the runner
    // dies while setting up, nothing is left behind. Armed again after the uid change, which
    // clears it.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) wu_child_fail(efd, WU_STAGE_SIGNALS, errno, NULL);

    // 1. Signal handlers and mask come from the runner; the unit starts from defaults. setsid()
    //    detaches from the runner's terminal: no controlling tty for TIOCSTI (hostile item 17).
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        (void)sigaction(s, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) wu_child_fail(efd, WU_STAGE_SIGNALS, errno, NULL);
    if (setsid() < 0) wu_child_fail(efd, WU_STAGE_SETSID, errno, NULL);

    //    The network namespace is made here, not by the clone: its setup (a loopback device,
    //    hundreds of sysctl entries) is the costliest part of the spawn, and the clone's caller
    //    would wait for it. Made here it runs while the caller loads the profile and claims the
    //    unit's cgroup (wu_sandbox_clone returns at once). We hold every capability in our new
    //    user namespace (as its first process), which owns it, exactly as with CLONE_NEWNET.
    if ((namespaces & WU_NS_NET) && unshare(CLONE_NEWNET) < 0) wu_child_fail(efd, WU_STAGE_NET_NS, errno, NULL);

    // 2. Wait for the setup (wu_sandbox_configure): the profile's part of the config, sent once
    //    the parent has written uid_map/gid_map (before that our ids are unmapped) and any v2
    //    cgroups. EOF means the parent gave up or died.
    const wu_spawn_config *c = wu_await_setup(efd, fds.listener_sock, (char *)fds.shared + WU_SETUP_OFFSET);
    if (c->namespaces != namespaces) wu_child_fail(efd, WU_STAGE_SYNC, EINVAL, "namespaces differ from the clone's");

    //    Join the v1 cgroups ourselves, before our setup is charged (see cgroup_self_fds).
    for (int i = 0; i < c->cgroup_self_fd_count; i++) {
        ssize_t w;
        do { w = write(c->cgroup_self_fds[i], "0\n", 2); } while (w < 0 && errno == EINTR);
        if (w != 2) wu_child_fail(efd, WU_STAGE_CGROUP, w < 0 ? errno : EIO, "join own cgroup");
    }
    for (int i = 0; i < c->cgroup_self_fd_count; i++) close(c->cgroup_self_fds[i]);

    //    A cgroup namespace entered only now, so the unit's cgroup root is its own cgroup.
    if ((c->namespaces & WU_NS_CGROUP) && unshare(CLONE_NEWCGROUP) < 0)
        wu_child_fail(efd, WU_STAGE_CGROUP_NS, errno, NULL);

    //    Become root of the new user namespace (mapped to an unprivileged host id) for the setup:
    //    files created in the new root need a mapped owner.
    if (c->namespaces & WU_NS_USER) {
        if (syscall(SYS_setresgid, c->setup_gid, c->setup_gid, c->setup_gid) < 0)
            wu_child_fail(efd, WU_STAGE_SETUP_IDS, errno, "setresgid");
        if (syscall(SYS_setresuid, c->setup_uid, c->setup_uid, c->setup_uid) < 0)
            wu_child_fail(efd, WU_STAGE_SETUP_IDS, errno, "setresuid");
        //    The id change cleared the parent-death signal; a prepared sandbox may wait long for
        //    its unit, so arm it again now (and again after the unit's ids, step 9).
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) wu_child_fail(efd, WU_STAGE_SETUP_IDS, errno, "pdeathsig");
        struct pollfd alive = {.fd = fds.sync_r, .events = POLLIN};
        if (poll(&alive, 1, 0) > 0 && (alive.revents & (POLLHUP | POLLERR))) wu_child_fail(efd, WU_STAGE_PARENT_GONE, EPIPE, NULL);
    }

    // 3. Mounts. Private first so nothing we mount propagates back to the host, then a fresh
    //    tmpfs root holding only what the plan lists, then pivot_root and detach the old root so
    //    no path leads back to the host's tree.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) wu_child_fail(efd, WU_STAGE_MOUNT_PRIVATE, errno, NULL);
    if (mount("tmpfs", c->root_dir, "tmpfs", MS_NOSUID | MS_NODEV, c->root_options) < 0)
        wu_child_fail(efd, WU_STAGE_MOUNT_ROOT, errno, c->root_dir);
    for (int i = 0; i < c->mount_count; i++) {
        if (wu_apply_mount(c->root_dir, &c->mounts[i], efd) < 0) wu_child_fail(efd, WU_STAGE_MOUNT, errno, c->mounts[i].target);
    }
    //    The root itself becomes read-only: writing anywhere but /out and /tmp gives EROFS.
    if (wu_setattr(c->root_dir, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0) < 0)
        wu_child_fail(efd, WU_STAGE_MOUNT_ROOT, errno, "remount ro");
    if (chdir(c->root_dir) < 0) wu_child_fail(efd, WU_STAGE_PIVOT_ROOT, errno, c->root_dir);
    if (syscall(SYS_pivot_root, ".", ".") < 0) wu_child_fail(efd, WU_STAGE_PIVOT_ROOT, errno, NULL);
    if (umount2(".", MNT_DETACH) < 0) wu_child_fail(efd, WU_STAGE_PIVOT_ROOT, errno, "umount old root");
    if (chdir("/") < 0) wu_child_fail(efd, WU_STAGE_PIVOT_ROOT, errno, "/");

    // 4. Hostname (own UTS namespace), loopback (own net namespace), rlimits (lowered only).
    if (c->namespaces & WU_NS_UTS) {
        if (sethostname(c->hostname, wu_strlen(c->hostname)) < 0) wu_child_fail(efd, WU_STAGE_HOSTNAME, errno, NULL);
        if (setdomainname("wu", 2) < 0) wu_child_fail(efd, WU_STAGE_HOSTNAME, errno, "domainname");
    }
    if ((c->namespaces & WU_NS_NET) && c->loopback_up && wu_loopback_up() < 0) wu_child_fail(efd, WU_STAGE_LOOPBACK, errno, NULL);
    //    Wait here for the unit: all above is the same for every unit of a profile (a sandbox
    //    prepared ahead waits long), all below is the unit's.
    c = wu_await_unit(efd, fds.listener_sock, fds.shared);
    for (int i = 0; i < c->rlimit_count; i++) {
        struct rlimit rl = {.rlim_cur = c->rlimits[i].soft, .rlim_max = c->rlimits[i].hard};
        if (setrlimit(c->rlimits[i].resource, &rl) < 0) wu_child_fail(efd, WU_STAGE_RLIMIT, errno, NULL);
    }

    // 5. Empty the bounding set while we still hold CAP_SETPCAP: afterwards no execve (setuid
    //    binary, file capabilities) can ever grant a capability again.
    for (int cap = 0; cap <= c->cap_last_cap; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) wu_child_fail(efd, WU_STAGE_CAPBSET, errno, NULL);
    }

    // 6. Supplementary groups first (needs CAP_SETGID), then the gid, then the uid last: after
    //    setuid we could no longer change the groups.
    if (syscall(SYS_setgroups, 0, NULL) < 0 && (c->namespaces & WU_NS_USER) == 0) wu_child_fail(efd, WU_STAGE_SETGROUPS, errno, NULL);
    if (syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0) wu_child_fail(efd, WU_STAGE_SETGID, errno, NULL);
    if (syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0) wu_child_fail(efd, WU_STAGE_SETUID, errno, NULL);

    // 7. Clear ambient, then every set, then no_new_privs (needed by the unprivileged seccomp
    //    filter and making setuid bits in the bundle inert).
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) wu_child_fail(efd, WU_STAGE_CAPS, errno, "ambient");
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) < 0) wu_child_fail(efd, WU_STAGE_CAPS, errno, "capset");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) wu_child_fail(efd, WU_STAGE_NO_NEW_PRIVS, errno, NULL);

    //    The unit's standard descriptors, through temporaries so that overlapping numbers work.
    int in = c->stdin_fd;
    if (in < 0) {
        in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in < 0) wu_child_fail(efd, WU_STAGE_STDIO, errno, "/dev/null");
    }
    int t0 = fcntl(in, F_DUPFD_CLOEXEC, 10);
    int t1 = fcntl(c->stdout_fd, F_DUPFD_CLOEXEC, 10);
    int t2 = fcntl(c->stderr_fd, F_DUPFD_CLOEXEC, 10);
    if (t0 < 0 || t1 < 0 || t2 < 0) wu_child_fail(efd, WU_STAGE_STDIO, errno, NULL);
    if (dup2(t0, 0) < 0 || dup2(t1, 1) < 0 || dup2(t2, 2) < 0) wu_child_fail(efd, WU_STAGE_STDIO, errno, NULL);
    close(t0);
    close(t1);
    close(t2);
    //    The originals are copies now: the init keeps only 0, 1, 2 and its status pipe.
    if (in > 2) close(in);
    if (c->stdout_fd > 2 && c->stdout_fd != in) close(c->stdout_fd);
    if (c->stderr_fd > 2 && c->stderr_fd != in && c->stderr_fd != c->stdout_fd) close(c->stderr_fd);

    // 8. Every other inherited descriptor closes at exec; the error pipe keeps working until then.
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) wu_child_fail(efd, WU_STAGE_CLOSE_RANGE, errno, NULL);

    // 9. The init. Non-dumpable first: it is a copy of the runner's memory, and the unit (same
    //    uid) must not read it through /proc/1/mem. The uid change cleared the parent-death
    //    signal, so arm it again and then check the parent did not die in between (it holds the
    //    sync pipe's write end open until the unit has exec'd).
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) wu_child_fail(efd, WU_STAGE_INIT, errno, "dumpable");
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) wu_child_fail(efd, WU_STAGE_INIT, errno, "pdeathsig");
    struct pollfd pfd = {.fd = fds.sync_r, .events = POLLIN};
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR))) wu_child_fail(efd, WU_STAGE_PARENT_GONE, EPIPE, NULL);
    close(fds.sync_r);

    //    Block SIGTERM/SIGINT/SIGHUP until the unit's pid is known, so forwarding never misses.
    sigset_t fwd;
    sigemptyset(&fwd);
    sigaddset(&fwd, SIGTERM);
    sigaddset(&fwd, SIGINT);
    sigaddset(&fwd, SIGHUP);
    sigprocmask(SIG_BLOCK, &fwd, NULL);

    //    The unit's process, vfork-style: it borrows the init's memory until its execve (no copy
    //    of the runner's page tables, no copy-on-write faults, nothing to tear down) and the init
    //    waits meanwhile. With a listener it also shares the init's descriptor table until the
    //    execve (which unshares it and closes the listener, close-on-exec, on the unit's side):
    //    the listener the unit's filter makes thus stays with the init, which passes it on to the
    //    parent. The unit never waits for anyone, and never holds its own listener (with it, it
    //    could answer its own denied calls).
    struct wu_unit_start start = {.c = c, .err_w = efd, .fwd = fwd, .listener = -1};
    char unit_stack[32 * 1024] __attribute__((aligned(64)));
    int unit_flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (c->seccomp_listener ? CLONE_FILES : 0);
    pid_t unit = clone(wu_unit_main, unit_stack + sizeof unit_stack, unit_flags, &start);
    if (unit < 0) wu_child_fail(efd, WU_STAGE_FORK, errno, NULL);

    //    Init: the error pipe now belongs to the unit alone (EOF at its exec tells the parent it
    //    started). Hand the listener over, forward termination signals, reap everything, and
    //    leave with the unit.
    close(efd);
    if (fds.listener_sock >= 0) {
        if (start.listener >= 0) {
            (void)wu_send_hand_over(fds.listener_sock, 0, &start.listener, 1); // on failure the parent sees EOF and gives up
            close(start.listener);
        }
        close(fds.listener_sock);
    }
    //    /proc/1/cmdline is readable by anyone, whatever the dumpable flag: wipe the init's copy
    //    of the runner's argv (it may hold a token) and environment. Only after the fork, since
    //    the unit's argv may point there; the runner's own memory is untouched.
    if (fds.arg_end > fds.arg_start) memset((void *)fds.arg_start, 0, fds.arg_end - fds.arg_start);
    if (fds.env_end > fds.env_start) memset((void *)fds.env_start, 0, fds.env_end - fds.env_start);
    wu_unit_pid = unit;
    struct sigaction fw;
    memset(&fw, 0, sizeof fw);
    fw.sa_handler = wu_forward_signal;
    fw.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &fw, NULL);
    sigaction(SIGINT, &fw, NULL);
    sigaction(SIGHUP, &fw, NULL);
    sigprocmask(SIG_UNBLOCK, &fwd, NULL);

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
    do { wr = write(fds.status_w, &unit_status, sizeof unit_status); } while (wr < 0 && errno == EINTR);
    // Leaving pid 1 makes the kernel SIGKILL whatever the unit left in its pid namespace.
    if (WIFEXITED(unit_status)) _exit(WEXITSTATUS(unit_status));
    _exit(128 + (WIFSIGNALED(unit_status) ? WTERMSIG(unit_status) : 0));
}

// MARK: - The parent

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

/// The parent's half of the hand-over: the listener the init passes on once the unit has
/// exec'd (at most 10 s; the init sends it at once). Returns it (close-on-exec), or -1 with errno.
static int wu_receive_listener(int sock) {
    struct pollfd p = {.fd = sock, .events = POLLIN};
    int r;
    do { r = poll(&p, 1, 10000); } while (r < 0 && errno == EINTR);
    if (r == 0) { errno = ETIMEDOUT; return -1; }
    if (r < 0) return -1;
    int fd = -1, count = 0;
    ssize_t n = wu_recv_hand_over(sock, &fd, 1, &count);
    if (n < 0) return -1;
    if (n != 1 || count != 1) {
        if (count == 1) close(fd);
        errno = EPIPE;
        return -1;
    }
    return fd;
}

/// Kills the init, and with it its pid namespace, reaps it and closes its pidfd.
static void wu_abandon(int pidfd) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    siginfo_t si;
    waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
    close(pidfd);
}

/// The parent's handles on a child between clone and the unit's exec.
struct wu_handles {
    long pid;
    int pidfd;
    int err_r;  // EOF once the unit exec'd; a wu_child_error on failure (or READY)
    int sync_w; // held open until the unit exec'd: the init checks it before it forks the unit
    int stat_r;
    int sock;   // the unit's part goes out on it, the listener (if any) comes back
};

static void wu_close_handles(struct wu_handles *h) {
    if (h->err_r >= 0) close(h->err_r);
    if (h->sync_w >= 0) close(h->sync_w);
    if (h->stat_r >= 0) close(h->stat_r);
    if (h->sock >= 0) close(h->sock);
    h->err_r = h->sync_w = h->stat_r = h->sock = -1;
}

/// Fails a child that was cloned: kills and reaps it, closes every handle.
static int wu_give_up(struct wu_handles *h, wu_spawn_result *res, int stage, int err, const char *_Nullable detail) {
    wu_abandon(h->pidfd);
    wu_close_handles(h);
    wu_fail(res, stage, err, detail);
    return -1;
}

/// Clones the child (into wu_child, which then waits for its setup). Returns 0 with `h` filled,
/// or -1 (nothing left running).
static int wu_clone_child(int namespaces, void *_Nullable *_Nonnull shared_out, struct wu_handles *h, wu_spawn_result *res) {
    h->pid = -1;
    h->pidfd = -1;
    h->err_r = h->sync_w = h->stat_r = h->sock = -1;

    // errp, syncp, statp and a socketpair (sockp[1] is the init's). Made under the spawn lock, so
    // that no other spawn's child is cloned holding them (each child also closes all but its own
    // at once).
    pthread_mutex_lock(&wu_spawn_lock);
    int pipes[4][2];
    for (int i = 0; i < 4; i++) pipes[i][0] = pipes[i][1] = -1;
    for (int i = 0; i < 4; i++) {
        int rc = i < 3 ? pipe2(pipes[i], O_CLOEXEC) : socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pipes[i]);
        if (rc < 0) {
            wu_fail(res, WU_STAGE_PIPE, errno, NULL);
            for (int j = 0; j < i; j++) { close(pipes[j][0]); close(pipes[j][1]); }
            pthread_mutex_unlock(&wu_spawn_lock);
            return -1;
        }
    }
    int *errp = pipes[0], *syncp = pipes[1], *statp = pipes[2], *sockp = pipes[3];
    //    The region the unit's config is copied into, shared with this child only: made under the
    //    lock and kept out of every later clone (MADV_DONTFORK below), so no other sandbox's init
    //    ever maps another unit's arguments.
    void *shared = mmap(NULL, WU_SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        wu_fail(res, WU_STAGE_PIPE, errno, "shared config");
        for (int j = 0; j < 4; j++) { close(pipes[j][0]); close(pipes[j][1]); }
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
        close(errp[0]);
        close(syncp[1]);
        close(statp[0]);
        close(sockp[0]);
        struct wu_child_fds fds = {
            .err_w = errp[1], .sync_r = syncp[0], .status_w = statp[1], .listener_sock = sockp[1],
            .arg_start = area[0], .arg_end = area[1], .env_start = area[2], .env_end = area[3],
            .shared = shared,
        };
        wu_child(namespaces, fds);
    }
    int clone_errno = errno;
    (void)madvise(shared, WU_SHARED_SIZE, MADV_DONTFORK);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_unlock(&wu_spawn_lock);

    close(errp[1]);
    close(syncp[0]);
    close(statp[1]);
    close(sockp[1]);
    h->err_r = errp[0];
    h->sync_w = syncp[1];
    h->stat_r = statp[0];
    h->sock = sockp[0];
    if (pid < 0) {
        munmap(shared, WU_SHARED_SIZE);
        wu_close_handles(h);
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
static int wu_read_child_message(int err_r, struct wu_child_error *ce) {
    memset(ce, 0, sizeof *ce);
    size_t got = 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long deadline = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 + WU_SETUP_TIMEOUT_MS;
    while (got < sizeof *ce) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long left = deadline - ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
        if (left <= 0) return -1;
        struct pollfd pe = {.fd = err_r, .events = POLLIN};
        int pr = poll(&pe, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return -1;
        ssize_t n = read(err_r, (char *)ce + got, sizeof *ce - got);
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
    int got = wu_read_child_message(h->err_r, &ce);
    if (got < 0) return wu_give_up(h, res, WU_STAGE_EXEC, ETIMEDOUT, "the sandbox's setup did not finish within 60 s");
    if (got > 0) return wu_give_up(h, res, ce.stage ? ce.stage : WU_STAGE_INIT, ce.error ? ce.error : EIO, ce.detail);
    int listener = -1;
    if (listener_wanted && (listener = wu_receive_listener(h->sock)) < 0) {
        // The unit exec'd, but the init did not pass its listener on: it would run unwatched.
        return wu_give_up(h, res, WU_STAGE_LISTENER, errno, "the init did not pass the listener on");
    }
    res->pid = (int)h->pid;
    res->pidfd = h->pidfd;
    res->status_fd = h->stat_r;
    res->listener_fd = listener;
    h->stat_r = -1;
    wu_close_handles(h);
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
    p->pid = p->pidfd = p->status_fd = p->error_fd = p->sync_fd = p->socket_fd = -1;
}

/// Moves everything `p` holds into handles (and `*shared`), leaving `p` holding nothing.
static struct wu_handles wu_take_handles(wu_prepared *p, void *_Nullable *_Nonnull shared) {
    struct wu_handles h = {
        .pid = p->pid, .pidfd = p->pidfd, .err_r = p->error_fd, .sync_w = p->sync_fd, .stat_r = p->status_fd, .sock = p->socket_fd,
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

/// A bump allocator over the shared region.
struct wu_arena {
    char *base;
    size_t size, used;
};

static void *_Nullable wu_arena_alloc(struct wu_arena *a, size_t n) {
    size_t at = (a->used + 15) & ~(size_t)15;
    if (at > a->size || n > a->size - at) return NULL;
    a->used = at + n;
    return a->base + at;
}

static const char *_Nullable wu_arena_string(struct wu_arena *a, const char *_Nullable s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = wu_arena_alloc(a, n);
    if (d) memcpy(d, s, n);
    return d;
}

/// Copies a NULL-terminated string array; NULL when the region is full.
static const char *_Nullable const *_Nullable wu_arena_strings(struct wu_arena *a, const char *_Nullable const *v) {
    size_t n = 0;
    while (v[n]) n++;
    const char **d = wu_arena_alloc(a, (n + 1) * sizeof *d);
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(d[i] = wu_arena_string(a, v[i]))) return NULL;
    }
    d[n] = NULL;
    return d;
}

/// Copies `count` mount-plan entries. An ATTACH entry's descriptor is appended to `passed` (at
/// `*n`, at most WU_MAX_PASSED) and replaced by its index; with no `passed`, an ATTACH entry is
/// refused. NULL when it does not fit.
static wu_mount *_Nullable wu_arena_mounts(struct wu_arena *a, const wu_mount *src, int count, int *_Nullable passed, int *n) {
    wu_mount *m = wu_arena_alloc(a, sizeof *m * (size_t)count);
    if (!m) return NULL;
    for (int i = 0; i < count; i++) {
        const wu_mount *s = &src[i];
        m[i] = (wu_mount){.kind = s->kind, .optional = s->optional, .fd = -1};
        m[i].source = wu_arena_string(a, s->source);
        m[i].data = wu_arena_string(a, s->data);
        if (!(m[i].target = wu_arena_string(a, s->target))) return NULL;
        if ((s->source && !m[i].source) || (s->data && !m[i].data)) return NULL;
        if (s->kind == WU_MOUNT_ATTACH) {
            if (!passed || *n >= WU_MAX_PASSED) return NULL;
            passed[*n] = s->fd;
            m[i].fd = (*n)++;
        }
    }
    return m;
}

/// The unit's part of `c`, deep-copied into the region, with every descriptor replaced by its
/// index among `passed` (filled here, at most WU_MAX_PASSED). NULL when it does not fit.
static wu_spawn_config *_Nullable wu_copy_unit(struct wu_arena *a, const wu_spawn_config *c, int *passed, int *npassed) {
    wu_spawn_config *u = wu_arena_alloc(a, sizeof *u);
    if (!u) return NULL;
    memset(u, 0, sizeof *u);
    u->argv = wu_arena_strings(a, c->argv);
    u->envp = wu_arena_strings(a, c->envp);
    u->cwd = wu_arena_string(a, c->cwd);
    if (!u->argv || !u->envp || !u->cwd) return NULL;
    if (c->rlimit_count > 0) {
        wu_rlimit *r = wu_arena_alloc(a, sizeof *r * (size_t)c->rlimit_count);
        if (!r) return NULL;
        memcpy(r, c->rlimits, sizeof *r * (size_t)c->rlimit_count);
        u->rlimits = r;
        u->rlimit_count = c->rlimit_count;
    }
    if (c->seccomp_filter && c->seccomp_filter_len > 0) {
        void *f = wu_arena_alloc(a, c->seccomp_filter_len);
        if (!f) return NULL;
        memcpy(f, c->seccomp_filter, c->seccomp_filter_len);
        u->seccomp_filter = f;
        u->seccomp_filter_len = c->seccomp_filter_len;
    }
    u->seccomp_listener = c->seccomp_listener;
    u->namespaces = c->namespaces;
    u->uid = c->uid;
    u->gid = c->gid;
    u->cap_last_cap = c->cap_last_cap;
    int n = 0;
    u->stdin_fd = -1;
    if (c->stdin_fd >= 0) { passed[n] = c->stdin_fd; u->stdin_fd = n++; }
    passed[n] = c->stdout_fd; u->stdout_fd = n++;
    passed[n] = c->stderr_fd; u->stderr_fd = n++;
    if (c->late_mount_count > 0) {
        if (c->late_mount_count > WU_MAX_PASSED - 3) return NULL;
        wu_mount *m = wu_arena_mounts(a, c->late_mounts, c->late_mount_count, passed, &n);
        if (!m) return NULL;
        u->late_mounts = m;
        u->late_mount_count = c->late_mount_count;
    }
    *npassed = n;
    return u;
}

/// The profile's part of `c` (what the init reads from its setup up to READY), deep-copied into
/// the region, each v1 cgroup descriptor replaced by its index among `passed`. NULL when it does
/// not fit or holds something only wu_sandbox_start may pass (an ATTACH mount).
static wu_spawn_config *_Nullable wu_copy_setup(struct wu_arena *a, const wu_spawn_config *c, int *passed, int *npassed) {
    wu_spawn_config *u = wu_arena_alloc(a, sizeof *u);
    if (!u) return NULL;
    memset(u, 0, sizeof *u);
    u->root_dir = wu_arena_string(a, c->root_dir);
    u->root_options = wu_arena_string(a, c->root_options);
    u->hostname = wu_arena_string(a, c->hostname);
    if (!u->root_dir || !u->root_options || !u->hostname) return NULL;
    if (c->mount_count > 0) {
        int none = 0;
        wu_mount *m = wu_arena_mounts(a, c->mounts, c->mount_count, NULL, &none);
        if (!m) return NULL;
        u->mounts = m;
        u->mount_count = c->mount_count;
    }
    u->namespaces = c->namespaces;
    u->setup_uid = c->setup_uid;
    u->setup_gid = c->setup_gid;
    u->loopback_up = c->loopback_up;
    u->cap_last_cap = c->cap_last_cap;
    if (c->cgroup_self_fd_count < 0 || c->cgroup_self_fd_count > WU_MAX_PASSED) return NULL;
    if (c->cgroup_self_fd_count > 0) {
        int *indices = wu_arena_alloc(a, sizeof(int) * (size_t)c->cgroup_self_fd_count);
        if (!indices) return NULL;
        for (int i = 0; i < c->cgroup_self_fd_count; i++) {
            passed[i] = c->cgroup_self_fds[i];
            indices[i] = i;
        }
        u->cgroup_self_fds = indices;
    }
    u->cgroup_self_fd_count = c->cgroup_self_fd_count;
    *npassed = c->cgroup_self_fd_count;
    return u;
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
    p->status_fd = h.stat_r;
    p->error_fd = h.err_r;
    p->sync_fd = h.sync_w;
    p->socket_fd = h.sock;
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
    if (wu_send_hand_over(p->socket_fd, 's', passed, npassed) < 0) { err = errno; why = "passing the setup to the sandbox"; goto fail; }
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

    if (wu_send_hand_over(h.sock, 'u', passed, npassed) < 0) return wu_give_up(&h, res, WU_STAGE_START, errno, "passing the unit to its sandbox");
    return wu_finish_spawn(&h, c->seccomp_listener, res);
}

void wu_sandbox_discard(wu_prepared *p) {
    void *shared = NULL;
    struct wu_handles h = wu_take_handles(p, &shared);
    if (h.pidfd >= 0) wu_abandon(h.pidfd);
    wu_close_handles(&h);
    if (shared) munmap(shared, WU_SHARED_SIZE);
}

int wu_open_tree(const char *path, int writable) {
    // The path itself, never what a final symlink there points to.
    int at = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (at < 0) return -1;
    int fd = (int)syscall(SYS_open_tree, at, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
    int saved = errno;
    close(at);
    if (fd < 0) { errno = saved; return -1; }
    // A copy keeps its source's propagation: private, so that no mount event passes between the
    // host and the sandbox (a sandbox made at start gets the same from making / private).
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (writable ? 0 : MOUNT_ATTR_RDONLY);
    attr.propagation = MS_PRIVATE;
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
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
    default: return "unknown";
    }
}

// MARK: - seccomp

static uint32_t wu_action(int action, int errno_ret) {
    switch (action) {
    case WU_SECCOMP_ALLOW: return SCMP_ACT_ALLOW;
    case WU_SECCOMP_ERRNO: return SCMP_ACT_ERRNO((uint16_t)errno_ret);
    case WU_SECCOMP_KILL_PROCESS: return SCMP_ACT_KILL_PROCESS;
    case WU_SECCOMP_KILL_THREAD: return SCMP_ACT_KILL_THREAD;
    case WU_SECCOMP_TRAP: return SCMP_ACT_TRAP;
    case WU_SECCOMP_LOG: return SCMP_ACT_LOG;
    default: return 0xFFFFFFFFu;
    }
}

int wu_seccomp_compile(int default_action, int default_errno, const wu_seccomp_rule *rules, int rule_count,
                       void **out, size_t *out_len, int *failed_rule, int *error) {
    *out = NULL;
    *out_len = 0;
    *failed_rule = -1;
    *error = 0;
    uint32_t def = wu_action(default_action, default_errno);
    if (def == 0xFFFFFFFFu) { *error = EINVAL; return -1; }
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx) { *error = ENOMEM; return -1; }
    // A binary tree of syscall numbers: the filter costs O(log n) per syscall, not O(n).
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    for (int i = 0; i < rule_count; i++) {
        const wu_seccomp_rule *r = &rules[i];
        uint32_t act = wu_action(r->action, r->errno_ret);
        if (act == 0xFFFFFFFFu || r->arg_count > 6 || r->arg_count < 0) { *failed_rule = i; *error = EINVAL; seccomp_release(ctx); return -1; }
        if (act == def) continue; // libseccomp refuses rules that repeat the default; they change nothing.
        struct scmp_arg_cmp cmps[6];
        memset(cmps, 0, sizeof cmps);
        for (int a = 0; a < r->arg_count; a++) {
            const wu_seccomp_arg *x = &r->args[a];
            cmps[a].arg = x->index;
            cmps[a].datum_a = x->value;
            cmps[a].datum_b = x->value_two;
            switch (x->op) {
            case WU_CMP_NE: cmps[a].op = SCMP_CMP_NE; break;
            case WU_CMP_LT: cmps[a].op = SCMP_CMP_LT; break;
            case WU_CMP_LE: cmps[a].op = SCMP_CMP_LE; break;
            case WU_CMP_EQ: cmps[a].op = SCMP_CMP_EQ; break;
            case WU_CMP_GE: cmps[a].op = SCMP_CMP_GE; break;
            case WU_CMP_GT: cmps[a].op = SCMP_CMP_GT; break;
            case WU_CMP_MASKED_EQ: cmps[a].op = SCMP_CMP_MASKED_EQ; break;
            default: *failed_rule = i; *error = EINVAL; seccomp_release(ctx); return -1;
            }
            if (x->index > 5) { *failed_rule = i; *error = EINVAL; seccomp_release(ctx); return -1; }
        }
        int rc = seccomp_rule_add_array(ctx, act, r->syscall, (unsigned int)r->arg_count, cmps);
        if (rc < 0) { *failed_rule = i; *error = -rc; seccomp_release(ctx); return -1; }
    }
    int fd = memfd_create("wu-seccomp", MFD_CLOEXEC);
    if (fd < 0) { *error = errno; seccomp_release(ctx); return -1; }
    int rc = seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    if (rc < 0) { *error = -rc; close(fd); return -1; }
    off_t len = lseek(fd, 0, SEEK_END);
    if (len <= 0) { *error = EIO; close(fd); return -1; }
    void *buf = malloc((size_t)len);
    if (!buf) { *error = ENOMEM; close(fd); return -1; }
    size_t got = 0;
    while (got < (size_t)len) {
        ssize_t n = pread(fd, (char *)buf + got, (size_t)len - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { *error = n < 0 ? errno : EIO; free(buf); close(fd); return -1; }
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    *out_len = (size_t)len;
    return 0;
}

int wu_seccomp_kernel_support(void) {
    int support = 0;
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0) support = 1;
    uint32_t action = SECCOMP_RET_USER_NOTIF;
    if (support && syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0) support |= 2;
    return support;
}

// MARK: - seccomp user notification

int wu_notify_receive(int listener, wu_notification *n) {
    struct seccomp_notif req;
    memset(&req, 0, sizeof req); // the kernel refuses a request that is not zeroed
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return -1;
    n->id = req.id;
    n->pid = req.pid;
    n->nr = req.data.nr;
    n->arch = req.data.arch;
    n->instruction_pointer = req.data.instruction_pointer;
    for (int i = 0; i < 6; i++) n->args[i] = req.data.args[i];
    return 0;
}

int wu_notify_respond(int listener, uint64_t id, int error, int continue_call) {
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = id;
    if (continue_call) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    else resp.error = -error;
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

int wu_seccomp_syscall_name(uint32_t arch, int nr, char *buffer, size_t size) {
    char *name = seccomp_syscall_resolve_num_arch(arch, nr);
    if (!name) { snprintf(buffer, size, "syscall-%d", nr); return -1; }
    snprintf(buffer, size, "%s", name);
    free(name);
    return 0;
}

uint32_t wu_seccomp_native_arch(void) { return seccomp_arch_native(); }

int wu_seccomp_library_version(void) {
    const struct scmp_version *v = seccomp_version();
    return v ? (int)(v->major * 10000 + v->minor * 100 + v->micro) : 0;
}

// MARK: - Helpers

int wu_caps_describe_self(char *buffer, size_t size) {
    cap_t caps = cap_get_proc();
    if (!caps) return -1;
    ssize_t len = 0;
    char *text = cap_to_text(caps, &len);
    cap_free(caps);
    if (!text) return -1;
    snprintf(buffer, size, "%s", text);
    cap_free(text);
    return 0;
}

int wu_pidfd_open(int pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int wu_pidfd_send_signal(int pidfd, int signal) { return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0); }

int wu_pidfd_reap(int pidfd, int *status) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0) return -1;
    if (si.si_pid == 0) return 0;
    switch (si.si_code) {
    case CLD_EXITED: *status = (si.si_status & 0xff) << 8; break;
    case CLD_KILLED: *status = si.si_status & 0x7f; break;
    case CLD_DUMPED: *status = (si.si_status & 0x7f) | 0x80; break;
    default: *status = 0; break;
    }
    return 1;
}

int wu_pipe_cloexec(int *fds) { return pipe2(fds, O_CLOEXEC); }

int wu_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int wu_wifexited(int status) { return WIFEXITED(status); }
int wu_wexitstatus(int status) { return WEXITSTATUS(status); }
int wu_wifsignaled(int status) { return WIFSIGNALED(status); }
int wu_wtermsig(int status) { return WTERMSIG(status); }
