import CSandbox
import Glibc
import Testing
import WUProtocol

@testable import WUSandbox

/// An init cloned before its unit's config is known (what `wu sandbox exec` does first, so that
/// its namespaces are made while the profile loads): it serves its unit, or dies unused.
@Suite(.serialized) struct ClonedSandboxTests {
    static let request = SandboxRequest(
        command: ["/bin/sh", "-c", "echo WU-MARKER; id -u; grep -c : /proc/net/dev"],
        limits: .init(wallTimeMs: 10_000)
    )

    /// The init's network namespace, once it has made its own (it does so after the clone returns).
    static func networkNamespace(of pid: Int32) -> String? { FileSystem.readLink("/proc/\(pid)/ns/net") }

    static func awaitOwnNetwork(_ pid: Int32) -> String? {
        let host = networkNamespace(of: getpid())
        for _ in 0..<200 {
            if let ns = networkNamespace(of: pid), ns != host { return ns }
            usleep(5000)
        }
        return nil
    }

    @Test(.enabled(if: isRoot, "needs root for cgroups")) func theUnitRunsInTheInitClonedForIt() throws {
        let h = try Harness("clone-run", mode: .new)
        defer { h.close() }
        let sandbox = try h.sandbox(SandboxProfile.load(named: "default"))
        let cloned = try ClonedSandbox()
        let pid = try #require(cloned.initPID)
        #expect(Self.awaitOwnNetwork(pid) != nil, "the clone makes its own network namespace")
        let r = try sandbox.runBlocking(Self.request, cloned: cloned)
        #expect(r.initPID == pid)
        #expect(!r.wasPrepared)
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        // Two header lines and lo: nothing of the host's network.
        #expect(r.usage.stdoutTail == "WU-MARKER\n1000\n1\n")
        #expect(cloned.initPID == nil, "taken by the unit")
        #expect(Harness.hostProcesses(uid: r.hostUID).isEmpty)
        #expect(!FileSystem.exists("/proc/\(pid)"))
    }

    /// Made by the init (unshare), the network namespace is owned by the sandbox's user namespace,
    /// as with CLONE_NEWNET at the clone: not by the host's.
    @Test(.enabled(if: isRoot, "needs root for user namespaces with a range of ids")) func theNetworkNamespaceBelongsToTheSandboxsUserNamespace() throws {
        let cloned = try ClonedSandbox()
        let pid = try #require(cloned.initPID)
        #expect(Self.awaitOwnNetwork(pid) != nil)
        let net = open("/proc/\(pid)/ns/net", O_RDONLY | O_CLOEXEC)
        #expect(net >= 0)
        defer { close(net) }
        let owner = ioctl(net, 0xb701)  // NS_GET_USERNS
        #expect(owner >= 0, "NS_GET_USERNS: errno \(errno)")
        defer { close(owner) }
        var ownerStat = stat()
        var sandboxUser = stat()
        var hostUser = stat()
        #expect(fstat(owner, &ownerStat) == 0)
        #expect(stat("/proc/\(pid)/ns/user", &sandboxUser) == 0)
        #expect(stat("/proc/self/ns/user", &hostUser) == 0)
        #expect(sandboxUser.st_ino != hostUser.st_ino)
        #expect(ownerStat.st_ino == sandboxUser.st_ino)
    }

    @Test(.enabled(if: isRoot, "needs root for user namespaces with a range of ids")) func aCloneNoUnitTakesIsKilled() throws {
        var pid: Int32 = -1
        do {
            let cloned = try ClonedSandbox()
            pid = try #require(cloned.initPID)
            #expect(Self.awaitOwnNetwork(pid) != nil)
            #expect(FileSystem.exists("/proc/\(pid)"))
        }
        // Discarded with its owner, and reaped: no process, not even a zombie.
        #expect(pid > 0 && !FileSystem.exists("/proc/\(pid)"))
    }

    @Test(.enabled(if: isRoot, "needs root for user namespaces with a range of ids")) func configureChecksWhatItIsGiven() throws {
        // Other namespaces than the clone's: refused, and the init is gone.
        var sandboxInit = try SandboxSetup.clone()
        let pid = sandboxInit.pid
        let strings = CStrings()
        defer { strings.free() }
        var config = SandboxSetup.emptyConfig(strings)
        config.namespaces = Int32(WU_NS_USER | WU_NS_PID)
        var result = wu_spawn_result()
        #expect(wu_sandbox_configure(&sandboxInit, &config, &result) == -1)
        #expect(result.error == EINVAL)
        #expect(sandboxInit.pid == -1 && sandboxInit.pidfd == -1)
        #expect(!FileSystem.exists("/proc/\(pid)"))
        // Configured already: refused, and the sandbox is left as it is (it still gets ready).
        let identity = UnitIdentity.next()
        var configured = try SandboxSetup.prepare(
            SandboxProfile.load(named: "default"),
            mounts: try MountPlan.profileMounts(SandboxProfile.load(named: "default"), unitUID: identity.unitUID) + MountPlan.unitMountPoints,
            identity: identity,
            group: nil
        )
        let live = configured.pid
        #expect(wu_sandbox_configure(&configured, &config, &result) == -1)
        #expect(result.error == EINVAL)
        #expect(configured.pid == live && FileSystem.exists("/proc/\(live)"))
        #expect(wu_sandbox_await_ready(&configured, &result) == 0)
        wu_sandbox_discard(&configured)
        #expect(!FileSystem.exists("/proc/\(live)"))
        // Discarded: refused too.
        #expect(wu_sandbox_configure(&configured, &config, &result) == -1)
        #expect(result.error == EINVAL)
        // A sandbox never configured is never ready: waiting for it fails at once.
        var unconfigured = try SandboxSetup.clone()
        let other = unconfigured.pid
        #expect(wu_sandbox_await_ready(&unconfigured, &result) == -1)
        #expect(result.error == EINVAL)
        #expect(!FileSystem.exists("/proc/\(other)"))
    }
}
