import CSandbox

/// A sandbox's init cloned before its unit's config is known (``SandboxSetup/clone()``), for one
/// unit made at start: its namespaces, the network's above all, are made while the caller loads
/// the profile and claims the unit's cgroup. Discarded if no unit takes it.
final class ClonedSandbox: @unchecked Sendable {  // handed to one unit on one thread; take() empties it
    private var sandboxInit: wu_prepared?

    /// Clones one now. As with every spawn, the init dies with the calling thread: the unit must
    /// run on it.
    init() throws(SandboxError) { sandboxInit = try SandboxSetup.clone() }

    /// Its init's host pid while no unit has taken it.
    var initPID: Int32? { sandboxInit?.pid }

    /// The clone, once: nil after the first call.
    func take() -> wu_prepared? {
        defer { sandboxInit = nil }
        return sandboxInit
    }

    /// Kills the clone now, if no unit took it.
    func discard() {
        if var s = take() { wu_sandbox_discard(&s) }
    }

    deinit { discard() }
}
