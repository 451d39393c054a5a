import Glibc
import Testing
import WUProtocol

@testable import WUSandbox

/// The v1 pool of reused unit cgroups (UnitCgroup): per-unit limits and counters, one unit per
/// slot, and a slot a killed holder left behind made safe before reuse.
@Suite(.serialized) struct UnitCgroupTests {
    static let isV1 = CgroupHierarchy.detect()?.version == .v1

    /// The slot directories under the cap in the memory hierarchy.
    static func slots(_ h: Harness) throws -> [String] {
        let cap = try #require(h.cap.cgroup)
        let memory = try #require(cap.dir("memory"))
        return FileSystem.list(memory).filter { $0.hasPrefix("slot-") }.sorted().map { memory + "/" + $0 }
    }

    @Test(.enabled(if: isRoot && isV1, "needs root and cgroup v1")) func aReusedSlotGetsTheNextUnitsLimitsAndCounters() async throws {
        let h = try Harness("pool-reuse")
        defer { h.close() }
        // A unit that forks, under small limits, and one that OOMs.
        let first = try await h.run(["/bin/sh", "-c", "sleep 0.1 & sleep 0.1 & wait"], limits: .init(memoryBytes: 32 << 20, pids: 16, wallTimeMs: 20_000))
        #expect(first.usage.exitCode == 0)
        #expect((first.usage.peakPids ?? 0) >= 4)
        let bomb = try await h.run(
            ["python3", "-c", "b = [bytearray(8 << 20) for _ in range(64)]"],
            limits: .init(memoryBytes: 32 << 20, wallTimeMs: 20_000)
        )
        #expect(bomb.usage.oomKilled)
        // The next unit in the same slot: its own peak pids, no inherited OOM kill, its own limits.
        let next = try await h.run(["/bin/true"], limits: .init(memoryBytes: 128 << 20, millicpus: 500, pids: 8, wallTimeMs: 20_000))
        #expect(next.usage.exitCode == 0)
        #expect(next.usage.peakPids == 2)
        #expect(!next.usage.oomKilled)
        #expect(next.usage.peakMemoryBytes < 32 << 20)
        let slots = try Self.slots(h)
        #expect(slots.count == 1, "sequential units share one slot: \(slots)")
        let slot = try #require(slots.first)
        #expect(FileSystem.readText(slot + "/memory.limit_in_bytes")?.trimmingWhitespace() == String(128 << 20))
        let group = Cgroup(hierarchy: try #require(h.cap.cgroup).hierarchy, relativePath: try #require(h.cap.cgroup).relativePath + "/slot-0")
        #expect(FileSystem.readText(try #require(group.dir("pids")) + "/pids.max")?.trimmingWhitespace() == "8")
        #expect(FileSystem.readText(try #require(group.dir("cpu")) + "/cpu.cfs_quota_us")?.trimmingWhitespace() == "50000")
        #expect(group.processes().isEmpty)
    }

    @Test(.enabled(if: isRoot && isV1, "needs root and cgroup v1")) func concurrentUnitsNeverShareASlot() async throws {
        let h = try Harness("pool-concurrent")
        defer { h.close() }
        async let a = h.run(["/bin/sleep", "2"], limits: .init(wallTimeMs: 20_000))
        async let b = h.run(["/bin/sleep", "2"], limits: .init(wallTimeMs: 20_000))
        var busy: [String] = []
        for _ in 0..<150 {  // without blocking the cooperative threads the two units start from
            try await Task.sleep(nanoseconds: 10_000_000)
            busy = try Self.slots(h).filter { !(FileSystem.readText($0 + "/cgroup.procs") ?? "").isEmpty }
            if busy.count == 2 { break }
        }
        let (ra, rb) = try await (a, b)
        #expect(ra.usage.exitCode == 0 && rb.usage.exitCode == 0)
        #expect(busy.count == 2, "two running units, each in a slot of its own: \(busy)")
    }

    @Test(.enabled(if: isRoot && isV1, "needs root and cgroup v1")) func aSlotAKilledHolderLeftFrozenAndFullIsEmptiedFirst() async throws {
        let h = try Harness("pool-stale")
        defer { h.close() }
        _ = try await h.run(["/bin/true"])  // creates slot-0
        let cap = try #require(h.cap.cgroup)
        let slot = Cgroup(hierarchy: cap.hierarchy, relativePath: cap.relativePath + "/slot-0")
        // A leftover process in the slot, frozen, and pids.peak above the minimum.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("100"), nil]
        defer { for a in argv { free(a) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0)
        for d in slot.directories { try FileSystem.write("\(pid)", to: d + "/cgroup.procs") }
        try FileSystem.write("FROZEN", to: try #require(slot.dir("freezer")) + "/freezer.state")
        // The next unit runs normally, in a slot with nothing else in it.
        let r = try await h.run(["/bin/sh", "-c", "echo ran"], limits: .init(wallTimeMs: 10_000))
        #expect(r.usage.exitCode == 0)
        #expect(r.usage.stdoutTail == "ran\n")
        // The killed leftover stays charged to pids until its parent (this test) reaps it.
        #expect((r.usage.peakPids ?? 0) <= 3)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(wu_test_wtermsig(status) == SIGKILL, "the leftover process was killed")
        #expect(slot.processes().isEmpty)
        #expect(FileSystem.readText(try #require(slot.dir("freezer")) + "/freezer.state")?.hasPrefix("THAWED") == true)
    }
}

/// WTERMSIG without the C macro.
func wu_test_wtermsig(_ status: Int32) -> Int32 { status & 0x7f }
