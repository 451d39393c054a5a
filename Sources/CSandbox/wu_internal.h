#ifndef WU_INTERNAL_H
#define WU_INTERNAL_H

// CSandbox's private header: what its files share, never seen by Swift (the public header,
// include/wu_sandbox.h, is the ABI). One file per concern, as nsjail splits contain/mnt/user:
//
//   spawn.c     the caller's half: wu_sandbox_clone/configure/start, the channels, the result
//   child.c     the init's half: the setup between clone3() and execve(), as a list of steps
//   mounts.c    the mount plan (both halves: the init applies it, wu_open_tree binds for it)
//   handover.c  the hand-overs on the socketpair and the shared region they point into
//   seccomp.c   the filter compiler, its installation in the unit, user notification
//   sys.c       async-signal-safe string helpers, the arena, libcap/pidfd/wait wrappers
//
// docs/sandbox.md tells the setup in order, with the reason for each step.

#include "wu_sandbox.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#pragma clang assume_nonnull begin

/// The longest path the child builds (root + target).
#define WU_PATH_MAX 4096

/// The most descriptors one hand-over passes (wu_sandbox_configure: the v1 cgroups;
/// wu_sandbox_start: stdin, stdout, stderr and the late mounts).
#define WU_MAX_PASSED 16

/// The region shared with the init (only the pages written cost memory): the unit's config
/// (wu_sandbox_start) in its first 7 MiB, room for argv and envp as large as execve takes under a
/// 28 MiB stack limit (a quarter of it; 2 MiB by default); the profile's part (wu_sandbox_configure)
/// in the last MiB.
#define WU_SHARED_SIZE (8u << 20)
#define WU_SETUP_OFFSET (7u << 20)

/// The message the init sends on the error pipe: a failure, or WU_STAGE_READY. Smaller than
/// PIPE_BUF, so one write is atomic.
struct wu_child_error {
    int32_t stage;
    int32_t error;
    char detail[256];
};

/// The four channels between the caller and one init, made by wu_clone_child. Each process holds
/// one end of each, under the same name.
struct wu_channels {
    /// The error pipe (init → caller): a wu_child_error on failure, or READY; EOF once the unit
    /// has exec'd (its copy is close-on-exec).
    int error_fd;
    /// The sync pipe: nothing is written. The caller holds its end open until the unit has exec'd,
    /// so that the init can tell whether the caller died (POLLHUP).
    int sync_fd;
    /// The status pipe (init → caller): the unit's raw wait status, 4 bytes, when it ends.
    int status_fd;
    /// The hand-over socket (SOCK_SEQPACKET, both ways): the setup and the unit go to the init
    /// (a byte, descriptors by SCM_RIGHTS), the unit's seccomp listener comes back.
    int hand_over_fd;
};

/// What the init starts with (wu_child), all set by the caller before clone3.
struct wu_child {
    /// The WU_NS_* it was cloned into.
    int namespaces;
    /// The init's ends.
    struct wu_channels ch;
    /// The runner's argument and environment strings ([start, end) in /proc/self/stat): the init
    /// wipes its copy.
    uintptr_t arg_start, arg_end, env_start, env_end;
    /// The region shared with the caller, where both parts of the config arrive.
    void *shared;
};

// MARK: - sys.c

size_t wu_strlen(const char *s);
/// Joins `a` and `b` into `out` (size WU_PATH_MAX). Returns 0, or -1 when too long.
int wu_join(char *out, const char *a, const char *b);
/// Copies at most 255 bytes of `src` (NULL: empty) into `dst` (256 bytes), NUL-terminated.
void wu_copy_detail(char *dst, const char *_Nullable src);
/// The child's failure: one wu_child_error on `error_fd`, then _exit(127).
_Noreturn void wu_child_fail(int error_fd, int stage, int err, const char *_Nullable detail);

/// A bump allocator over the shared region.
struct wu_arena {
    char *base;
    size_t size, used;
};
void *_Nullable wu_arena_alloc(struct wu_arena *a, size_t n);
const char *_Nullable wu_arena_string(struct wu_arena *a, const char *_Nullable s);
/// Copies a NULL-terminated string array; NULL when the region is full.
const char *_Nullable const *_Nullable wu_arena_strings(struct wu_arena *a, const char *_Nullable const *_Nonnull v);

// MARK: - mounts.c

/// Applies one mount-plan entry under `root` (the new root before pivot_root, "" after it).
/// Returns 0, or -1 with errno; a target too long fails the child on `error_fd`.
int wu_apply_mount(const char *root, const wu_mount *m, int error_fd);
/// The init's new root: / private, a tmpfs on root_dir, the plan, read-only, pivot_root. Fails
/// the child on `error_fd`.
void wu_make_root(const wu_spawn_config *c, int error_fd);
/// `mount_setattr` of `set` on `path` (recursively when `recursive`).
int wu_setattr(const char *path, uint64_t set, int recursive);

// MARK: - handover.c

/// Sends one hand-over, either way: `byte` and the `n` descriptors `passed`. Returns 0, or -1
/// with errno.
int wu_send_hand_over(int hand_over_fd, char byte, const int *passed, int n);
/// Receives one hand-over: a byte and at most `max` descriptors into `got`. Returns recvmsg's
/// result (≤ 0: EOF or an error), with `*count` the descriptors received, or -1 when more came.
ssize_t wu_receive_hand_over(int hand_over_fd, int *got, int max, int *count);
/// The init's wait for its setup (hand-over 's'): the profile's part of the config, with its v1
/// cgroup descriptors in place. EOF ends the init quietly.
const wu_spawn_config *wu_init_await_setup(const struct wu_child *child);
/// The init's wait for its unit: reports READY, receives hand-over 'u', makes the late mounts.
/// Returns the unit's part of the config. EOF ends the init quietly.
const wu_spawn_config *wu_init_await_unit(const struct wu_child *child);
/// The caller's receive of the listener the init passes on once the unit has exec'd (≤ 10 s).
int wu_receive_listener(int hand_over_fd);
/// The profile's part of `c`, copied into the region for wu_init_await_setup. NULL when it
/// does not fit.
wu_spawn_config *_Nullable wu_copy_setup(struct wu_arena *a, const wu_spawn_config *c, int *passed, int *npassed);
/// The unit's part of `c`, copied into the region for wu_init_await_unit. NULL when it does not
/// fit.
wu_spawn_config *_Nullable wu_copy_unit(struct wu_arena *a, const wu_spawn_config *c, int *passed, int *npassed);

// MARK: - seccomp.c

/// Installs the unit's filter (in the unit's process, last before execve). Returns the listener
/// with `seccomp_listener`, -1 without; fails the child on `error_fd`.
int wu_install_filter(const wu_spawn_config *c, int error_fd);

// MARK: - child.c

/// The init, from clone3 to the end of its unit.
_Noreturn void wu_child(struct wu_child child);

#pragma clang assume_nonnull end

#endif
