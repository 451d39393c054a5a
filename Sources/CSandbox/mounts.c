// The mount plan: the init applies it under its new root (wu_apply_mount, one wu_mount per entry,
// then wu_make_root's pivot_root), and the caller binds a prepared sandbox's late mounts in the
// host's mount namespace (wu_open_tree). The plan itself is built in Swift (MountPlan).
// Everything the init calls here runs between clone3 and execve: raw syscalls only.

#include "wu_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int wu_setattr(const char *path, uint64_t set, int recursive) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = set;
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof attr);
}

/// Applies one mount-plan entry under `root` (the new root, before pivot_root).
int wu_apply_mount(const char *root, const wu_mount *m, int error_fd) {
    char dst[WU_PATH_MAX];
    if (wu_join(dst, root, m->target) < 0) wu_child_fail(error_fd, WU_STAGE_MOUNT, ENAMETOOLONG, m->target);
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
    // The unit's own /dev/shm and /dev/pts (ABI 6): shared memory never holds programs, and a
    // devpts instance cannot be nodev, since its nodes are the ptys it serves.
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

void wu_make_root(const wu_spawn_config *c, int error_fd) {
    // Private first so nothing we mount propagates back to the host, then a fresh tmpfs root
    // holding only what the plan lists.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) wu_child_fail(error_fd, WU_STAGE_MOUNT_PRIVATE, errno, NULL);
    if (mount("tmpfs", c->root_dir, "tmpfs", MS_NOSUID | MS_NODEV, c->root_options) < 0)
        wu_child_fail(error_fd, WU_STAGE_MOUNT_ROOT, errno, c->root_dir);
    for (int i = 0; i < c->mount_count; i++) {
        if (wu_apply_mount(c->root_dir, &c->mounts[i], error_fd) < 0) wu_child_fail(error_fd, WU_STAGE_MOUNT, errno, c->mounts[i].target);
    }
    // The root itself becomes read-only: writing anywhere but /out and /tmp gives EROFS.
    if (wu_setattr(c->root_dir, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0) < 0)
        wu_child_fail(error_fd, WU_STAGE_MOUNT_ROOT, errno, "remount ro");
    // pivot_root and detach the old root: no path leads back to the host's tree.
    if (chdir(c->root_dir) < 0) wu_child_fail(error_fd, WU_STAGE_PIVOT_ROOT, errno, c->root_dir);
    if (syscall(SYS_pivot_root, ".", ".") < 0) wu_child_fail(error_fd, WU_STAGE_PIVOT_ROOT, errno, NULL);
    if (umount2(".", MNT_DETACH) < 0) wu_child_fail(error_fd, WU_STAGE_PIVOT_ROOT, errno, "umount old root");
    if (chdir("/") < 0) wu_child_fail(error_fd, WU_STAGE_PIVOT_ROOT, errno, "/");
}

// MARK: - The caller's half

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
