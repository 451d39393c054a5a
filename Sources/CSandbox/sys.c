// Small helpers shared by both halves: async-signal-safe string work and the child's failure
// report (no allocation: they run between clone3 and execve), the arena over the shared region,
// and thin wrappers Swift cannot call directly (libcap, pidfd, pipe2, eventfd, the W* macros).

#include "wu_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int wu_sandbox_abi_version(void) { return 6; }

// MARK: - Async-signal-safe (the child)

size_t wu_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

int wu_join(char *out, const char *a, const char *b) {
    size_t la = wu_strlen(a), lb = wu_strlen(b);
    if (la + lb + 1 > WU_PATH_MAX) return -1;
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    out[la + lb] = 0;
    return 0;
}

void wu_copy_detail(char *dst, const char *_Nullable src) {
    if (!src) { dst[0] = 0; return; }
    size_t n = wu_strlen(src);
    if (n > 255) n = 255;
    memcpy(dst, src, n);
    dst[n] = 0;
}

_Noreturn void wu_child_fail(int error_fd, int stage, int err, const char *_Nullable detail) {
    struct wu_child_error e;
    memset(&e, 0, sizeof e);
    e.stage = stage;
    e.error = err;
    wu_copy_detail(e.detail, detail);
    ssize_t r;
    do { r = write(error_fd, &e, sizeof e); } while (r < 0 && errno == EINTR);
    _exit(127);
}

// MARK: - The arena (the caller, into the shared region)

void *_Nullable wu_arena_alloc(struct wu_arena *a, size_t n) {
    size_t at = (a->used + 15) & ~(size_t)15;
    if (at > a->size || n > a->size - at) return NULL;
    a->used = at + n;
    return a->base + at;
}

const char *_Nullable wu_arena_string(struct wu_arena *a, const char *_Nullable s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = wu_arena_alloc(a, n);
    if (d) memcpy(d, s, n);
    return d;
}

const char *_Nullable const *_Nullable wu_arena_strings(struct wu_arena *a, const char *_Nullable const *v) {
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

// MARK: - Wrappers for Swift

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
