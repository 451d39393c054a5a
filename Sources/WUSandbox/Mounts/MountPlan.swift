import CSandbox
import Glibc

/// One entry of the mount plan (a `wu_mount`: `CStrings.mounts(_:)` makes the C copy).
struct PlannedMount {
    var kind: Int32
    var optional: Bool
    var source: String? = nil
    var target: String
    var data: String? = nil
    /// WU_MOUNT_ATTACH: the detached mount (wu_open_tree).
    var fd: Int32 = -1
}

/// What the init mounts in its new root, in order (Sources/CSandbox/mounts.c applies it; the
/// kinds are the header's WU_MOUNT_*; docs/sandbox.md, "Mounts", says why each is there).
///
/// Two parts: the profile's (``profileMounts(_:unitUID:)``), the same for each of its units, and the
/// unit's (``unitMounts(_:tmpBytes:)``). A sandbox made at the unit's start mounts both before
/// pivot_root (``madeAtStart(_:_:unitUID:tmpBytes:)``); a prepared one mounts the profile's part with the
/// unit's mount points (``unitMountPoints``) ahead, and the unit's part later (``LateMounts``).
enum MountPlan {
    /// The mount point the child puts its root tmpfs on (only inside its own mount namespace).
    static func rootDirectory() throws(SandboxError) -> String {
        let dir = geteuid() == 0 ? "/run/wu/sandbox-root" : "/tmp/wu-\(geteuid())/sandbox-root"
        if !FileSystem.isDirectory(dir) { try FileSystem.makeDirectories(dir, mode: 0o755) }
        return dir
    }

    /// The profile's part of the mount plan, the same for each of its units: its binds, the
    /// generated /etc files, /proc with its masks, /dev with its own ptys.
    static func profileMounts(_ profile: SandboxProfile, unitUID: UInt32) throws(SandboxError) -> [PlannedMount] {
        var plan: [PlannedMount] = []
        for m in profile.mounts {
            if FileSystem.isSymlink(m.source), let link = FileSystem.readLink(m.source) {
                // `/bin -> usr/bin`: replicate the link; the real tree comes with its own bind.
                plan.append(.init(kind: Int32(WU_MOUNT_SYMLINK), optional: false, source: link, target: m.target))
            } else if FileSystem.exists(m.source) {
                plan.append(.init(kind: Int32(WU_MOUNT_BIND_RO), optional: m.optional, source: m.source, target: m.target))
            } else if !m.optional {
                throw SandboxError(.unsupported, "the '\(profile.name)' profile binds \(m.source), which this host does not have")
            }
        }
        // What programs expect to find about their host and its users, generated (see UnitEtc).
        plan += UnitEtc.mounts(profile, unitUID: unitUID)
        plan.append(.init(kind: Int32(WU_MOUNT_PROC), optional: false, target: "/proc"))
        for p in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs", "/proc/kcore", "/proc/timer_list"] {
            plan.append(.init(kind: Int32(WU_MOUNT_REMOUNT_RO), optional: true, target: p))
        }
        plan.append(.init(kind: Int32(WU_MOUNT_TMPFS), optional: false, target: "/dev", data: "size=64k,nr_inodes=64,mode=0755"))
        for d in profile.devices {
            plan.append(.init(kind: Int32(WU_MOUNT_DEVICE), optional: false, source: "/dev/" + d, target: "/dev/" + d))
        }
        plan += UnitEtc.devptsMounts
        plan.append(.init(kind: Int32(WU_MOUNT_SYMLINK), optional: false, source: "/proc/self/fd", target: "/dev/fd"))
        for (i, name) in ["stdin", "stdout", "stderr"].enumerated() {
            plan.append(.init(kind: Int32(WU_MOUNT_SYMLINK), optional: false, source: "/proc/self/fd/\(i)", target: "/dev/" + name))
        }
        return plan
    }

    /// Where a prepared sandbox attaches a unit's part later: its mount points, made before the
    /// root turns read-only.
    static let unitMountPoints: [PlannedMount] = ["/tmp", "/code", "/in", "/out"].map {
        PlannedMount(kind: Int32(WU_MOUNT_DIR), optional: false, target: $0)
    } + [PlannedMount(kind: Int32(WU_MOUNT_FILE), optional: false, target: "/run/wu/progress", data: "")]

    /// A sandbox made at the unit's start: both parts, all before pivot_root.
    static func madeAtStart(
        _ profile: SandboxProfile, _ request: SandboxRequest, unitUID: UInt32, tmpBytes: Int64
    ) throws(SandboxError) -> [PlannedMount] {
        try profileMounts(profile, unitUID: unitUID) + unitMounts(request, tmpBytes: tmpBytes)
    }

    /// The unit's part of the mount plan: /tmp, /dev/shm, and its directories (empty ones where it
    /// has none).
    static func unitMounts(_ request: SandboxRequest, tmpBytes: Int64) -> [PlannedMount] {
        var plan: [PlannedMount] = []
        plan.append(
            .init(kind: Int32(WU_MOUNT_TMPFS), optional: false, target: "/tmp", data: "size=\(max(tmpBytes, 4096)),nr_inodes=65536,mode=1777")
        )
        plan.append(UnitEtc.shm(bytes: tmpBytes))
        func bind(_ source: String?, _ target: String, writable: Bool) {
            if let source {
                plan.append(.init(kind: Int32(writable ? WU_MOUNT_BIND_RW : WU_MOUNT_BIND_RO), optional: false, source: source, target: target))
            } else {
                plan.append(.init(kind: Int32(WU_MOUNT_DIR), optional: false, target: target))
            }
        }
        bind(request.codeDirectory, "/code", writable: false)
        bind(request.inputDirectory, "/in", writable: false)
        bind(request.outputDirectory, "/out", writable: true)
        if let progress = request.progressFile {
            plan.append(.init(kind: Int32(WU_MOUNT_BIND_RW), optional: false, source: progress, target: "/run/wu/progress"))
        } else {
            plan.append(.init(kind: Int32(WU_MOUNT_DIR), optional: false, target: "/run/wu"))
        }
        return plan
    }
}
