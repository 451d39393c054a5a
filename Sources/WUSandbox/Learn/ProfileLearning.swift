import Glibc
public import WUProtocol

/// `wu profile learn`: what a command uses, turned into the narrowest profile that still runs it.
///
/// The command runs once in the sandbox of a base profile (its namespaces, mounts, devices and
/// limits) under a filter that notifies every call: each is recorded, and let through
/// (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) when the base allows it, or answered with the base's errno
/// when it does not, so the command runs as it will under the learned profile and can never do
/// more than the base lets it. The learned profile is the base with its allow rules cut down to
/// the syscalls the command made; the base's deny rules stay. So it is never wider than the base,
/// and a call the base denies is listed as such, not added.
public struct ProfileLearning: Sendable {
    /// The learned profile.
    public var profile: SandboxProfile
    /// How the command ended while it was being watched.
    public var usage: ResourceUsage
    /// Every syscall the command made, with counts, most frequent first.
    public var observed: [ResourceUsage.DeniedSyscall]
    /// Syscalls the command made that the base profile does not allow: they are not in the
    /// learned profile, which denies them as the base does.
    public var deniedByBase: [String]

    /// Let through unrecorded while learning, and always kept: the unit's process makes them after
    /// installing its filter and before the supervisor holds the listener (`execve`, and
    /// `exit_group`/`exit` when the exec fails).
    static let unsupervised: [String] = ["execve", "exit", "exit_group"]

    /// Runs `request` under `base`'s sandbox with every call recorded, and learns a profile named `name`.
    /// - Throws: ``SandboxError`` when the sandbox cannot supervise (not root) or cannot start the command.
    public static func learn(
        _ request: SandboxRequest,
        base: SandboxProfile,
        cap: VolunteerCap,
        name: String,
        description: String
    ) async throws(SandboxError) -> ProfileLearning {
        let sandbox = try Sandbox.learning(profile: base, cap: cap)
        let result = try await sandbox.run(request)
        var learned = derive(from: base, used: Set(result.learnedSyscalls.map(\.name)), name: name, description: description)
        learned.usage = result.usage
        learned.observed = result.learnedSyscalls
        return learned
    }

    /// The base profile with its allow rules restricted to `used` (plus ``unsupervised``).
    static func derive(from base: SandboxProfile, used: Set<String>, name: String, description: String) -> ProfileLearning {
        let keep = used.union(unsupervised)
        var profile = base
        profile.name = name
        profile.description = description
        profile.sourceBytes = []
        var allowedByBase = Set<String>()
        profile.seccomp.syscalls = base.seccomp.syscalls.compactMap { rule in
            guard rule.action == .allow || rule.action == .log else { return rule }  // deny rules never widen
            allowedByBase.formUnion(rule.names)
            var cut = rule
            cut.names = rule.names.filter { keep.contains($0) }
            return cut.names.isEmpty ? nil : cut
        }
        let denied = used.subtracting(allowedByBase).sorted()
        return ProfileLearning(profile: profile, usage: ResourceUsage(), observed: [], deniedByBase: denied)
    }
}

extension SandboxProfile {
    /// The recording filter of `wu profile learn`: every call is logged (turned into a notification
    /// the supervisor answers with this profile's own verdict), but for
    /// ``ProfileLearning/unsupervised``, which run before the supervisor holds the listener.
    func learningSeccomp() -> Seccomp {
        var s = seccomp
        s.defaultAction = .log
        s.syscalls = [Seccomp.Rule(names: ProfileLearning.unsupervised, action: .allow)]
        return s
    }
}
