import Glibc

/// The volunteer's cap: a parent cgroup under which every unit's cgroup is nested, so that all
/// units together never pass `--cpus`, `--memory` or `--pids` (docs/threat-model.md, item 31).
///
/// Layout: `<hierarchy>/wu/<name>/slot-<i>` on v1 (reused, see UnitCgroup), `…/unit-<pid>-<n>` on
/// v2. A runner makes one cap at start (removing what a previous run left there) and removes it
/// when it stops.
public final class VolunteerCap: Sendable {
    /// nil when limits are off (`--no-limits`, or not root and explicitly allowed).
    public let cgroup: Cgroup?
    public let limits: Cgroup.Limits

    private init(cgroup: Cgroup?, limits: Cgroup.Limits) {
        self.cgroup = cgroup
        self.limits = limits
    }

    /// Creates (or re-creates) the cap `wu/<name>` with `limits`.
    ///
    /// Anything a previous process left under it is killed and removed first.
    /// - Throws: ``SandboxError`` `unsupported` when this host cannot apply limits (not root, no
    ///   cgroup controllers), `cgroup` when a file cannot be written.
    public static func create(name: String, limits: Cgroup.Limits = .init()) throws(SandboxError) -> VolunteerCap {
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), !name.isEmpty else {
            throw SandboxError(.invalidLimits, "invalid cap name '\(name)'")
        }
        let hierarchy = try usableHierarchy()
        let relative = "wu/" + name
        let old = Cgroup(hierarchy: hierarchy, relativePath: relative)
        if old.directories.contains(where: FileSystem.isDirectory) {
            VolunteerCap.sweep(old)
        }
        let group = try Cgroup.create(hierarchy, relativePath: relative, limits: limits)
        return VolunteerCap(cgroup: group, limits: limits)
    }

    /// The cap `wu/<name>` shared by short-lived processes (`wu sandbox exec`): created with
    /// `limits` if missing, used as it is otherwise, and never swept (other processes may be
    /// running units under it). Units remove their own groups.
    public static func shared(name: String, limits: Cgroup.Limits = .init()) throws(SandboxError) -> VolunteerCap {
        let hierarchy = try usableHierarchy()
        let group = Cgroup(hierarchy: hierarchy, relativePath: "wu/" + name)
        if group.directories.allSatisfy(FileSystem.isDirectory) { return VolunteerCap(cgroup: group, limits: limits) }
        return VolunteerCap(cgroup: try Cgroup.create(hierarchy, relativePath: "wu/" + name, limits: limits), limits: limits)
    }

    /// The host's cgroup hierarchy, when this process may apply limits with it: root, mounted, and
    /// with every controller a cap needs.
    static func usableHierarchy() throws(SandboxError) -> CgroupHierarchy {
        guard geteuid() == 0 else {
            throw SandboxError(
                .unsupported,
                "cgroup limits need root here (no delegated cgroup for this user); run as root or pass --no-limits"
            )
        }
        guard let hierarchy = CgroupHierarchy.detect() else {
            throw SandboxError(.unsupported, "no cgroup file system is mounted; limits cannot be enforced (pass --no-limits to run without)")
        }
        let missing = hierarchy.missingControllers
        guard missing.isEmpty else {
            throw SandboxError(.unsupported, "cgroup \(hierarchy.version.rawValue) lacks the controllers \(missing.joined(separator: ", "))")
        }
        return hierarchy
    }

    /// A cap that applies nothing: units run without cgroups (usage then has no CPU or memory figures).
    public static func unlimited() -> VolunteerCap { VolunteerCap(cgroup: nil, limits: .init()) }

    /// Kills every process under the cap and removes its cgroups.
    public func remove() {
        guard let cgroup else { return }
        VolunteerCap.sweep(cgroup)
    }

    static func sweep(_ group: Cgroup) {
        for d in group.directories {
            for child in FileSystem.list(d) where FileSystem.isDirectory(d + "/" + child) && !child.contains(".") {
                Cgroup(hierarchy: group.hierarchy, relativePath: group.relativePath + "/" + child).killAll()
            }
        }
        group.killAll()
        group.remove()
    }
}
