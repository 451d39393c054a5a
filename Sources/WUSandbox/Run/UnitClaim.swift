import CSandbox
import Glibc

/// What a unit runs in, from its claim to its tear-down: a sandbox's init (prepared ahead, cloned
/// ahead by the caller, or cloned now), the unit's host ids and its cgroup.
///
/// A prepared sandbox (``PreparedSandboxes``) has its ids, cgroup and the profile's part of the
/// setup made while earlier units ran. Otherwise the init is cloned at once: it makes its network
/// namespace while the cgroup is claimed and the mount plan built, and is configured after. Either
/// way ``tearDown()`` leaves nothing: the init discarded if no unit started in it, the unit's
/// cgroup (a reused slot on v1) emptied and removed or unlocked, and the pool asked to prepare the
/// next.
struct UnitClaim {
    /// Taken from the pool: only the unit's part of the setup is left.
    let wasPrepared: Bool
    let identity: UnitIdentity
    /// Until ``UnitStart`` consumes it. nil when cloning failed: ``configure(_:mounts:)`` then
    /// makes the sandbox in one go, which reports why.
    var sandboxInit: wu_prepared?
    private(set) var group: UnitCgroup?
    private let pool: PreparedSandboxes?

    init(pool: PreparedSandboxes?, clonedAhead: ClonedSandbox?) {
        let prepared = pool?.take()
        self.pool = pool
        wasPrepared = prepared != nil
        identity = prepared?.identity ?? UnitIdentity.next()
        group = prepared?.unitGroup
        sandboxInit = prepared?.sandboxInit
        if prepared == nil {
            sandboxInit = clonedAhead?.take() ?? (try? SandboxSetup.clone())
        } else {
            clonedAhead?.discard()  // not kept idle for the unit's life
        }
    }

    /// The unit's limits, before any of its code runs: a prepared group gets them now, a new one
    /// is claimed under the cap with them (before the init is configured and joins it).
    mutating func claimCgroup(_ limits: Cgroup.Limits, cap: VolunteerCap) throws(SandboxError) {
        if let group {
            try group.group.apply(limits, reused: true)
        } else if !wasPrepared, let capGroup = cap.cgroup {
            group = try UnitCgroup.claim(under: capGroup, name: "unit-\(getpid())-\(identity.number)", limits: limits)
        }
    }

    /// A sandbox made at the unit's start: hands the init the profile's part of the setup with
    /// `plan` (the unit's directories included, bound before pivot_root), which it does while the
    /// unit's part is made here. Not for a prepared one: it has done this part.
    mutating func configure(_ profile: SandboxProfile, mounts plan: [PlannedMount]) throws(SandboxError) {
        if sandboxInit != nil {
            try SandboxSetup.configure(&sandboxInit!, profile, mounts: plan, identity: identity, group: group?.group)  // discards it on failure
        } else {
            sandboxInit = try SandboxSetup.prepare(profile, mounts: plan, identity: identity, group: group?.group)
        }
    }

    /// Discards an init no unit started in, releases the cgroup (once its init is reaped), and
    /// asks for the next prepared sandbox, last, once the unit's group is released.
    mutating func tearDown() {
        if sandboxInit != nil { wu_sandbox_discard(&sandboxInit!) }
        group?.release()
        pool?.replenish()
    }
}
