import CSandbox
import Glibc

/// A prepared sandbox's part of the unit's mounts, made after pivot_root: its /tmp and /dev/shm (tmpfs), and
/// its directories, each bound here, in the host's mount namespace (wu_open_tree), and attached
/// inside by the init (WU_MOUNT_ATTACH). Binding from outside needs CAP_SYS_ADMIN there, which is
/// why prepared sandboxes are root only.
struct LateMounts {
    private(set) var plan: [PlannedMount]
    /// The detached binds, open until the unit has started.
    private(set) var descriptors: [Int32] = []

    /// None: a sandbox made at the unit's start has mounted the unit's part before pivot_root.
    static var empty: LateMounts { LateMounts(plan: []) }

    private init(plan: [PlannedMount]) { self.plan = plan }

    init(_ request: SandboxRequest, tmpBytes: Int64) throws(SandboxError) {
        plan = MountPlan.unitMounts(request, tmpBytes: tmpBytes).filter { $0.kind != Int32(WU_MOUNT_DIR) }
        // The binds become detached mounts; the tmpfs mounts are made inside.
        for i in plan.indices where plan[i].kind == Int32(WU_MOUNT_BIND_RO) || plan[i].kind == Int32(WU_MOUNT_BIND_RW) {
            let writable = plan[i].kind == Int32(WU_MOUNT_BIND_RW)
            let fd = wu_open_tree(plan[i].source!, writable ? 1 : 0)
            guard fd >= 0 else {
                let error = SandboxError(.spawn, "cannot bind \(plan[i].source!) for the unit", errno: errno)
                close()
                throw error
            }
            descriptors.append(fd)
            plan[i] = PlannedMount(kind: Int32(WU_MOUNT_ATTACH), optional: false, target: plan[i].target, fd: fd)
        }
    }

    /// Once the unit has started, the init has attached them (or the start failed).
    func close() {
        for fd in descriptors { Glibc.close(fd) }
    }
}
