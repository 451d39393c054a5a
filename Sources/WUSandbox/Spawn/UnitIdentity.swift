import Glibc
import Synchronization

/// Who a unit is on the host: its own block of 65536 host ids, so that its processes are
/// identifiable there (and never host uid 0 or the runner's uid).
struct UnitIdentity: Sendable {
    /// This process's count of units, for the ids and the v2 group's name.
    let number: Int
    /// Not root: one id, the caller's own, mapped to 0 inside.
    let rootless: Bool
    let hostBase: UInt32
    /// The uid and gid inside the user namespace.
    let unitUID: UInt32
    let hostUID: UInt32
    let hostGID: UInt32

    /// The uid and gid a unit has inside its user namespace as root (rootless it is 0).
    static let unitUID: UInt32 = 1000

    private static let counter = Atomic<Int>(0)

    static func next() -> UnitIdentity {
        let rootless = geteuid() != 0
        let n = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        let slot = UInt32((Int(getpid()) &* 64 &+ n) % 16000)
        let hostBase: UInt32 = rootless ? geteuid() : 0x4000_0000 + slot * 65536
        let unitUID: UInt32 = rootless ? 0 : Self.unitUID
        return UnitIdentity(
            number: n,
            rootless: rootless,
            hostBase: hostBase,
            unitUID: unitUID,
            hostUID: rootless ? geteuid() : hostBase + unitUID,
            hostGID: rootless ? getegid() : hostBase + unitUID
        )
    }

    var uidMap: String { rootless ? "0 \(hostBase) 1\n" : "0 \(hostBase) 65536\n" }
    var gidMap: String { rootless ? "0 \(getegid()) 1\n" : "0 \(hostBase) 65536\n" }
}
