// The hand-overs between the caller and the init, on the socketpair (SOCK_SEQPACKET): one byte
// and descriptors by SCM_RIGHTS each way, the config itself copied into the shared region first.
//
//   's'  wu_sandbox_configure → the init: the profile's part, with the v1 cgroup descriptors
//   'u'  wu_sandbox_start → the init: the unit's part, with stdin, stdout, stderr, late mounts
//   0    the init → the caller, once the unit has exec'd: the unit's seccomp listener
//
// Descriptors in a copied config are indices into what the hand-over passed; the init replaces
// them by the descriptors it received.

#include "wu_internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// MARK: - Both ways

/// Sends one hand-over on the socketpair, either way (the setup and the unit to the init, the
/// unit's listener back): `byte` and the `n` descriptors `passed` (SCM_RIGHTS). Returns 0, or -1
/// with errno.
int wu_send_hand_over(int hand_over_fd, char byte, const int *passed, int n) {
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
    do { w = sendmsg(hand_over_fd, &msg, MSG_NOSIGNAL); } while (w < 0 && errno == EINTR);
    if (w == 1) return 0;
    if (w >= 0) errno = EPIPE;
    return -1;
}

/// Receives one hand-over on the socketpair: a byte and at most `max` (≤ WU_MAX_PASSED)
/// descriptors, close-on-exec, into `got`. Returns recvmsg's result (≤ 0: EOF or an error), with
/// `*count` the descriptors received, or -1 when more came than `max` (the kernel closed the rest).
ssize_t wu_receive_hand_over(int hand_over_fd, int *got, int max, int *count) {
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
    do { n = recvmsg(hand_over_fd, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
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

// MARK: - The init

/// The init's receive of a hand-over from the parent (its setup, its unit): the descriptors'
/// count. EOF (the sandbox was discarded, or the parent died) ends the init quietly.
static int wu_init_receive_hand_over(int error_fd, int hand_over_fd, int stage, int got[WU_MAX_PASSED]) {
    int count;
    if (wu_receive_hand_over(hand_over_fd, got, WU_MAX_PASSED, &count) <= 0) _exit(0);
    if (count < 0) wu_child_fail(error_fd, stage, E2BIG, "too many descriptors");
    return count;
}

/// Replaces each index in `slots` (into the `count` descriptors `got`) by its descriptor. Every
/// index must be in range and used once; a negative one is kept where `optional` allows.
static void wu_resolve_indices(int error_fd, int stage, int *slots[], int nslots, const int got[], int count, int optional) {
    int used[WU_MAX_PASSED];
    memset(used, 0, sizeof used);
    for (int i = 0; i < nslots; i++) {
        int index = *slots[i];
        if (index < 0 && i == optional) continue;
        if (index < 0 || index >= count || used[index]) wu_child_fail(error_fd, stage, EBADF, "descriptor index");
        used[index] = 1;
        *slots[i] = got[index];
    }
}

const wu_spawn_config *wu_init_await_setup(const struct wu_child *child) {
    int error_fd = child->ch.error_fd;
    int got[WU_MAX_PASSED];
    int count = wu_init_receive_hand_over(error_fd, child->ch.hand_over_fd, WU_STAGE_SYNC, got);
    wu_spawn_config *c = (wu_spawn_config *)((char *)child->shared + WU_SETUP_OFFSET);
    if (c->cgroup_self_fd_count < 0 || c->cgroup_self_fd_count > WU_MAX_PASSED || c->cgroup_self_fd_count != count)
        wu_child_fail(error_fd, WU_STAGE_SYNC, EBADF, "cgroup descriptors");
    int *slots[WU_MAX_PASSED];
    int *fds = (int *)c->cgroup_self_fds;
    for (int i = 0; i < count; i++) slots[i] = &fds[i];
    wu_resolve_indices(error_fd, WU_STAGE_SYNC, slots, count, got, count, -1);
    if (c->namespaces != child->namespaces) wu_child_fail(error_fd, WU_STAGE_SYNC, EINVAL, "namespaces differ from the clone's");
    return c;
}

const wu_spawn_config *wu_init_await_unit(const struct wu_child *child) {
    int error_fd = child->ch.error_fd;
    struct wu_child_error ready;
    memset(&ready, 0, sizeof ready);
    ready.stage = WU_STAGE_READY;
    ssize_t w;
    do { w = write(error_fd, &ready, sizeof ready); } while (w < 0 && errno == EINTR);
    if (w != (ssize_t)sizeof ready) _exit(127);

    int got[WU_MAX_PASSED];
    int count = wu_init_receive_hand_over(error_fd, child->ch.hand_over_fd, WU_STAGE_START, got);

    // Descriptors in the copied config are indices into what was passed.
    wu_spawn_config *u = child->shared;
    int *slots[3 + WU_MAX_PASSED];
    int nslots = 0;
    slots[nslots++] = &u->stdin_fd;
    slots[nslots++] = &u->stdout_fd;
    slots[nslots++] = &u->stderr_fd;
    if (u->late_mount_count > WU_MAX_PASSED) wu_child_fail(error_fd, WU_STAGE_START, E2BIG, "too many late mounts");
    wu_mount *late = (wu_mount *)u->late_mounts;
    for (int i = 0; i < u->late_mount_count; i++) {
        if (late[i].kind == WU_MOUNT_ATTACH) slots[nslots++] = &late[i].fd;
    }
    wu_resolve_indices(error_fd, WU_STAGE_START, slots, nslots, got, count, 0); // stdin (slot 0) may be /dev/null
    for (int i = 0; i < u->late_mount_count; i++) {
        if (wu_apply_mount("", &late[i], error_fd) < 0) wu_child_fail(error_fd, WU_STAGE_MOUNT, errno, late[i].target);
        if (late[i].kind == WU_MOUNT_ATTACH) close(late[i].fd);
    }
    return u;
}

// MARK: - The caller

/// The parent's half of the hand-over: the listener the init passes on once the unit has
/// exec'd (at most 10 s; the init sends it at once). Returns it (close-on-exec), or -1 with errno.
int wu_receive_listener(int hand_over_fd) {
    struct pollfd p = {.fd = hand_over_fd, .events = POLLIN};
    int r;
    do { r = poll(&p, 1, 10000); } while (r < 0 && errno == EINTR);
    if (r == 0) { errno = ETIMEDOUT; return -1; }
    if (r < 0) return -1;
    int fd = -1, count = 0;
    ssize_t n = wu_receive_hand_over(hand_over_fd, &fd, 1, &count);
    if (n < 0) return -1;
    if (n != 1 || count != 1) {
        if (count == 1) close(fd);
        errno = EPIPE;
        return -1;
    }
    return fd;
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
wu_spawn_config *_Nullable wu_copy_unit(struct wu_arena *a, const wu_spawn_config *c, int *passed, int *npassed) {
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
wu_spawn_config *_Nullable wu_copy_setup(struct wu_arena *a, const wu_spawn_config *c, int *passed, int *npassed) {
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
