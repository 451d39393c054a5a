// seccomp, both halves: the caller compiles a profile's rules with libseccomp (wu_seccomp_compile)
// and answers the unit's notified calls (wu_notify_*); the unit's process installs the compiled
// filter last before execve (wu_install_filter, raw syscalls only).

#include "wu_internal.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// MARK: - The unit's process

int wu_install_filter(const wu_spawn_config *c, int error_fd) {
    if (!c->seccomp_filter || c->seccomp_filter_len == 0) return -1;
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
    if (listener < 0) wu_child_fail(error_fd, WU_STAGE_SECCOMP, errno, NULL);
    return c->seccomp_listener ? (int)listener : -1;
}

// MARK: - The compiler (the caller)

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

