import Glibc
import Testing
import WUProtocol

@testable import WUSandbox

/// Sandboxes prepared ahead (what wu-runner uses). What a unit can and cannot do in one is tested
/// by the hostile, resource and denied-syscall suites, which run every test in both modes; these
/// test what is particular to preparing.
@Suite(.serialized) struct PreparedSandboxTests {
    static let request = SandboxRequest(command: ["/bin/sh", "-c", "echo WU-MARKER; id -u"], limits: .init(wallTimeMs: 10_000))

    @Test(.enabled(if: isRoot, "needs root for cgroups")) func eachPreparedSandboxServesOneUnit() async throws {
        let h = try Harness("prep-once", mode: .prepared)
        defer { h.close() }
        let sandbox = try h.sandbox(SandboxProfile.load(named: "default"))
        let first = try await sandbox.run(Self.request)
        // The next one is prepared after the first unit ended.
        Harness.awaitPrepared(sandbox)
        let second = try await sandbox.run(Self.request)
        for r in [first, second] {
            #expect(r.wasPrepared)
            #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
            #expect(r.usage.stdoutTail == "WU-MARKER\n1000\n")
        }
        // Never the same sandbox twice: another init, another block of host ids.
        #expect(first.initPID != second.initPID)
        #expect(first.hostUID != second.hostUID)
        #expect(Harness.hostProcesses(uid: first.hostUID).isEmpty)
        #expect(Harness.hostProcesses(uid: second.hostUID).isEmpty)
    }

    @Test(.enabled(if: isRoot, "needs root for cgroups")) func discardingKillsThePreparedInitAndFreesItsCgroup() async throws {
        let h = try Harness("prep-discard", mode: .prepared)
        defer { h.close() }
        let sandbox = try h.sandbox(SandboxProfile.load(named: "default"))
        let ready = try #require(sandbox.prepared?.ready.first)
        // It waits as the root of its own user namespace: host id hostBase, in a unit slot.
        #expect(Harness.hostProcesses(uid: ready.hostBase) == [ready.initPID])
        let slot = try #require(FileSystem.readText("/proc/\(ready.initPID)/cgroup"))
        #expect(slot.contains(h.name + "/slot-"), "\(slot)")
        sandbox.discardPrepared()
        #expect(Harness.hostProcesses(uid: ready.hostBase).isEmpty)
        #expect(!FileSystem.exists("/proc/\(ready.initPID)"))
        // No more are prepared; a unit then gets a sandbox made at its start.
        #expect(sandbox.preparedCount == 0)
        let r = try await sandbox.run(Self.request)
        #expect(!r.wasPrepared)
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        try await Task.sleep(for: .milliseconds(200))
        #expect(sandbox.preparedCount == 0)
    }

    /// The unit's directories are private mounts in both kinds of sandbox: no mount event passes
    /// between the host and the unit, even from a host mount that propagates (shared).
    @Test(.enabled(if: isRoot, "needs root for mounts"), arguments: SandboxMode.allCases) func theUnitsDirectoriesArePrivateMounts(_ mode: SandboxMode) async throws {
        let h = try Harness("prep-private", mode: mode)
        defer { h.close() }
        let shared = try h.directory("shared")
        #expect(mount("tmpfs", shared, "tmpfs", 0, "size=4m") == 0)
        defer { umount2(shared, Int32(MNT_DETACH)) }
        #expect(mount(nil, shared, nil, UInt(MS_SHARED), nil) == 0)
        let out = shared + "/out"
        try FileSystem.makeDirectories(out, mode: 0o755)
        #expect(FileSystem.readText("/proc/self/mountinfo")?.contains("shared:") == true, "the bait: a shared host mount")
        let r = try await h.run(["/bin/sh", "-c", "echo WU-MARKER; grep ' /out ' /proc/self/mountinfo"], out: out)
        #expect(r.usage.exitCode == 0, "\(r.usage.stderrTail)")
        let line = r.usage.stdoutTail.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        #expect(line.contains(" /out "), "\(r.usage.stdoutTail)")
        #expect(!line.contains("shared:"), "\(line)")
    }
}
