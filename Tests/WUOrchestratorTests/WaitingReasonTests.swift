import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

extension OrchestratorTests {
    /// Why a job's units wait, worked out when the job is read, on a real SQLite file.
    @Suite struct WaitingReasonTests {
        static let small = Manifest.Resources(millicpus: 500, memoryBytes: 64 << 20, diskBytes: 16 << 20)

        @Test func noRunnerRegisteredThenNoneActive() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 3, resources: Self.small)
            #expect(try await h.waiting(job) == ["3: no runner registered"])
            _ = try await h.register("r1")
            #expect(try await h.job(job).waiting.map(\.code) == [WaitingReason.Code.queued])
            h.clock.advance(seconds: 46)
            #expect(try await h.waiting(job) == ["3: no runner active (1 registered, none heard from in the last 45 s)"])
        }

        @Test func aProfileNoRunnerAllowsIsNamed() async throws {
            let h = try Harness()
            _ = try await h.register("r1", profiles: ["default", "strict"])
            let job = try await h.makeJob(units: 100, resources: Self.small, profile: "stirct")
            let view = try await h.job(job)
            #expect(view.waiting == [WaitingReason(count: 100, code: "profile", reason: "no runner allows profile 'stirct'")])
            #expect(view.waiting.allSatisfy { $0.noRunnerFits })
            #expect(view.waiting.first?.line == "100 units wait: no runner allows profile 'stirct'")
        }

        @Test func cpusMemoryDiskGPUsAndArchAreEachNamedWithTheLargestRunner() async throws {
            let h = try Harness()
            _ = try await h.register("half", capacity: Capacity(millicpus: 500, memoryBytes: 512 << 20, diskBytes: 1 << 30, gpus: 0))
            _ = try await h.register("quarter", capacity: Capacity(millicpus: 250, memoryBytes: 256 << 20, diskBytes: 1 << 30, gpus: 0))
            let cpu = try await h.makeJob(units: 1, resources: .init(millicpus: 1000, memoryBytes: 64 << 20))
            let cpus = try await h.makeJob(units: 1, resources: .init(millicpus: 2000, memoryBytes: 64 << 20))
            let memory = try await h.makeJob(units: 2, resources: .init(millicpus: 500, memoryBytes: 2 << 30))
            let disk = try await h.makeJob(units: 1, resources: .init(millicpus: 500, memoryBytes: 64 << 20, diskBytes: 4 << 30))
            let gpu = try await h.makeJob(units: 1, resources: .init(millicpus: 500, memoryBytes: 64 << 20, gpus: 1))
            let arch = try await h.makeJob(units: 1, resources: .init(millicpus: 500, memoryBytes: 64 << 20, arch: "sparc"))
            #expect(try await h.waiting(cpu) == ["1: needs 1 cpu, the largest active runner has 0.5"])
            #expect(try await h.waiting(cpus) == ["1: needs 2 cpus, the largest active runner has 0.5"])
            #expect(try await h.waiting(memory) == ["2: needs 2G memory, the largest active runner has 512M"])
            #expect(try await h.waiting(disk) == ["1: needs 4G disk, the largest active runner has 1G"])
            #expect(try await h.waiting(gpu) == ["1: needs 1 gpu, no active runner has one"])
            #expect(try await h.waiting(arch) == ["1: no runner registered with arch sparc"])
            // The list of jobs says the same as each job.
            let listed = try await h.scheduler.jobs(h.admin).jobs.first { $0.jobID == cpu }
            #expect(listed?.waiting.first?.reason == "needs 1 cpu, the largest active runner has 0.5")
        }

        @Test func aReplicaWaitsForADistinctVolunteer() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 1, replicas: 3, quorum: 3, resources: Self.small)
            let runners = [try await h.register("r1", volunteer: "v1"), try await h.register("r2", volunteer: "v2")]
            for r in runners { try await h.complete(try #require(try await h.claim(r).first), by: r, output: "o") }
            #expect(
                try await h.waiting(job) == [
                    "1: waiting for a distinct volunteer for replica 3 (all 2 active volunteers already ran a copy)"
                ]
            )
            let units = try await h.scheduler.units(h.admin, job, .init(state: "pending", limit: 20)).units
            #expect(units.first?.waitingReason?.hasPrefix("waiting for a distinct volunteer for replica 3") == true)
            // Another runner of a volunteer that ran a copy cannot take it; a third volunteer can.
            _ = try await h.register("r2b", volunteer: "v2")
            #expect(try await h.job(job).waiting.map(\.code) == [WaitingReason.Code.distinctVolunteer])
            _ = try await h.register("r3", volunteer: "v3")
            #expect(try await h.job(job).waiting.map(\.code) == [WaitingReason.Code.queued])
        }

        @Test func busyRunnersAndAPausedJob() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 3, resources: .init(millicpus: 1000, memoryBytes: 64 << 20))
            let r = try await h.register("one", capacity: Capacity(millicpus: 1000, memoryBytes: 1 << 30, diskBytes: 1 << 30, gpus: 0))
            #expect(try await h.claim(r).count == 1)
            #expect(try await h.waiting(job) == ["2: the 1 active runner able to run it is busy"])
            let view = try await h.job(job)
            #expect(view.units["leased"] == 1)
            #expect(view.units["pending"] == 2)
            try await h.scheduler.control(h.requester, jobID: job, .pause)
            #expect(try await h.waiting(job) == ["2: the job is paused (wu resume \(job))"])
        }

        @Test func finishedJobsWaitForNothing() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 1, resources: Self.small, profile: "stirct")
            try await h.scheduler.control(h.requester, jobID: job, .cancel)
            #expect(try await h.job(job).waiting.isEmpty)
        }

        /// 100,000 units: the job view and a page of its units are read in SQL, not in memory.
        @Test func aHundredThousandUnitJobStaysFast() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 100_000, replicas: 2, quorum: 2, resources: Self.small, profile: "stirct")
            let r = try await h.register("r1")
            _ = r
            let started = ContinuousClock.now
            let view = try await h.job(job)
            let page = try await h.scheduler.units(h.admin, job, .init(state: "pending", limit: 20))
            let second = try await h.scheduler.units(h.admin, job, .init(state: "pending", limit: 20, after: Int64(try #require(page.next))))
            let elapsed = started.duration(to: .now)
            #expect(view.waiting == [WaitingReason(count: 100_000, code: "profile", reason: "no runner allows profile 'stirct'")])
            #expect(page.units.map(\.unitID) == (0..<20).map { "u\($0)" })
            #expect(second.units.map(\.unitID) == (20..<40).map { "u\($0)" })
            #expect(page.units.allSatisfy { $0.waitingReason == "no runner allows profile 'stirct'" })
            #expect(elapsed < .seconds(2), "reading a 100,000-unit job took \(elapsed)")
            // Runnable, with replicas: whether each unit needs a distinct volunteer is asked in SQL too.
            let runnable = try await h.makeJob(units: 100_000, replicas: 2, quorum: 2, resources: Self.small)
            let again = ContinuousClock.now
            let waiting = try await h.job(runnable).waiting
            let took = again.duration(to: .now)
            #expect(waiting.map(\.count) == [100_000])
            #expect(took < .seconds(2), "reading a runnable 100,000-unit job took \(took)")
        }
    }
}
