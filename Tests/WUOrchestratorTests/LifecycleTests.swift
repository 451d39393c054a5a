import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

extension OrchestratorTests {
    /// The copy and job lifecycle on an injected clock: nothing here sleeps.
    @Suite struct LifecycleTests {
        @Test func leaseExpiryRequeuesUntilMaxAttemptsThenTheUnitFails() async throws {
            let h = try Harness { $0.maxAttempts = 3 }
            let job = try await h.makeJob(units: 1)
            let r = try await h.register("r1")
            for attempt in 1...3 {
                let claimed = try await h.claim(r)
                #expect(claimed.count == 1)
                #expect(claimed.first?.attempt == attempt)
                h.clock.advance(seconds: 74)
                #expect(try await h.scheduler.sweep() == SweepResponse(requeued: 0, failed: 0))
                h.clock.advance(seconds: 2)
                let swept = try await h.scheduler.sweep()
                if attempt < 3 {
                    #expect(swept == SweepResponse(requeued: 1, failed: 0))
                    #expect(try await h.copies(job).first?.state == "queued")
                } else {
                    #expect(swept == SweepResponse(requeued: 0, failed: 1))
                }
            }
            let view = try await h.job(job)
            #expect(view.state == "failed")
            #expect(view.units["failed"] == 1)
            #expect(view.failureReasons.contains { $0.contains("lease expired 3 times") })
            #expect(try await h.claim(r).isEmpty)
        }

        @Test func heartbeatsRenewLeases() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 1)
            let r = try await h.register("r1")
            let a = try #require(try await h.claim(r).first)
            for _ in 0..<5 {
                h.clock.advance(seconds: 60)
                let beat = try await h.scheduler.heartbeat(
                    h.runner,
                    HeartbeatRequest(runnerID: r, assignments: [.init(assignmentID: a.assignmentID, progress: 0.5)])
                )
                #expect(beat.renewed == [a.assignmentID])
                #expect(beat.abort.isEmpty)
                #expect(try await h.scheduler.sweep().requeued == 0)
            }
            #expect(try await h.copies(job).first?.progress == 0.5)
            h.clock.advance(seconds: 76)
            #expect(try await h.scheduler.sweep().requeued == 1)
            // The lease is gone: the next heartbeat says abort.
            let beat = try await h.scheduler.heartbeat(h.runner, HeartbeatRequest(runnerID: r, assignments: [.init(assignmentID: a.assignmentID)]))
            #expect(beat.abort == [a.assignmentID])
        }

        @Test func aCheatingCopyIsOutvotedAndLosesReputation() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 1, replicas: 3, quorum: 2)
            let (r1, r2, r3) = (
                try await h.register("honest1", volunteer: "honest1"), try await h.register("honest2", volunteer: "honest2"),
                try await h.register("cheat", volunteer: "cheat")
            )
            let a1 = try #require(try await h.claim(r1).first)
            let a2 = try #require(try await h.claim(r2).first)
            let a3 = try #require(try await h.claim(r3).first)
            try await h.complete(a3, by: r3, output: "forged")
            try await h.complete(a1, by: r1, output: "right")
            #expect(try await h.job(job).state == "running")
            let ack = try await h.complete(a2, by: r2, output: "right")
            #expect(ack.copyState == "valid")
            let view = try await h.job(job)
            #expect(view.state == "completed")
            #expect(view.copies["valid"] == 2)
            #expect(view.copies["invalid"] == 1)
            let cheat = try await h.runnerView(r3)
            #expect(cheat.reputation == -5)
            #expect(cheat.invalid == 1)
            #expect(cheat.consecutiveValid == 0)
            let honest = try await h.runnerView(r1)
            #expect(honest.reputation == 1)
            #expect(honest.consecutiveValid == 1)
            let board = try await h.scheduler.leaderboard()
            #expect(board.runners.last?.name == "cheat")
            #expect(board.runners.first?.reputation == 1)
        }

        @Test func onceAUnitIsDecidedItsRunningCopiesAreAborted() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 1, replicas: 3, quorum: 2)
            let (r1, r2, r3) = (try await h.register("a", volunteer: "a"), try await h.register("b", volunteer: "b"), try await h.register("c", volunteer: "c"))
            let (a1, a2, a3) = (
                try #require(try await h.claim(r1).first), try #require(try await h.claim(r2).first), try #require(try await h.claim(r3).first)
            )
            try await h.complete(a1, by: r1, output: "same")
            try await h.complete(a2, by: r2, output: "same")
            let beat = try await h.scheduler.heartbeat(
                h.identity(of: r3), HeartbeatRequest(runnerID: r3, assignments: [.init(assignmentID: a3.assignmentID)])
            )
            #expect(beat.abort == [a3.assignmentID])
            let late = try await h.complete(a3, by: r3, output: "same")
            #expect(!late.counted)
            #expect(try await h.job(job).copies == ["valid": 2, "cancelled": 1])
            #expect(try await h.runnerView(r3).reputation == 0)
        }

        @Test func noAgreementAddsOneMoreCopyUpToABound() async throws {
            let h = try Harness { $0.maxExtraCopies = 1 }
            let job = try await h.makeJob(units: 1, replicas: 2, quorum: 2)
            var r: [String] = []
            for name in ["a", "b", "c", "d"] { r.append(try await h.register(name, volunteer: name)) }
            let (r1, r2, r3, r4) = (r[0], r[1], r[2], r[3])
            try await h.complete(try #require(try await h.claim(r1).first), by: r1, output: "x")
            try await h.complete(try #require(try await h.claim(r2).first), by: r2, output: "y")
            #expect(try await h.copies(job).count == 3)
            #expect(try await h.copies(job).filter { $0.state == "queued" }.count == 1)
            try await h.complete(try #require(try await h.claim(r3).first), by: r3, output: "x")
            var view = try await h.job(job)
            #expect(view.state == "completed")
            #expect(try await h.runnerView(r2).reputation == -5)

            // Past the bound: the unit fails as inconclusive.
            let job2 = try await h.makeJob(units: 1, replicas: 2, quorum: 2)
            try await h.complete(try #require(try await h.claim(r1).first), by: r1, output: "1")
            try await h.complete(try #require(try await h.claim(r2).first), by: r2, output: "2")
            try await h.complete(try #require(try await h.claim(r3).first), by: r3, output: "3")
            #expect(try await h.claim(r4).isEmpty)
            view = try await h.job(job2)
            #expect(view.state == "failed")
            #expect(view.failureReasons.contains { $0.contains("inconclusive") })
        }

        @Test func aggregationStartsWhenTheLastUnitValidates() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 2, aggregate: true)
            let r = try await h.register("r")
            let claimed = try await h.claim(r, max: 4)
            #expect(claimed.count == 2)
            #expect(claimed.allSatisfy { !$0.isAggregate })
            try await h.complete(claimed[0], by: r, output: "one")
            #expect(try await h.job(job).state == "running")
            #expect(try await h.claim(r).isEmpty)
            try await h.complete(claimed[1], by: r, output: "two")
            #expect(try await h.job(job).state == "aggregating")
            let aggregate = try #require(try await h.claim(r).first)
            #expect(aggregate.isAggregate)
            #expect(aggregate.unitID == "aggregate")
            #expect(aggregate.aggregateInputs.map(\.unitID) == ["u0", "u1"])
            #expect(aggregate.aggregateInputs.map(\.outputDigest) == [try h.output("one").outputDigest, try h.output("two").outputDigest])
            #expect(aggregate.files.allSatisfy { $0.path.hasPrefix("code/") })
            try await h.complete(aggregate, by: r, output: "total")
            let view = try await h.job(job)
            #expect(view.state == "completed")
            #expect(view.resultDigest == (try h.output("total").blobDigest))
            #expect(view.progress == 1)
        }

        @Test func cancelMakesHeartbeatsAnswerAbortAndLateResultsChangeNothing() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 2)
            let r = try await h.register("r")
            let a = try #require(try await h.claim(r).first)
            try await h.scheduler.control(h.requester, jobID: job, .cancel)
            let beat = try await h.scheduler.heartbeat(h.runner, HeartbeatRequest(runnerID: r, assignments: [.init(assignmentID: a.assignmentID)]))
            #expect(beat.abort == [a.assignmentID])
            #expect(beat.renewed.isEmpty)
            #expect(try await h.claim(r).isEmpty)
            let ack = try await h.complete(a, by: r, output: "late")
            #expect(!ack.counted)
            let view = try await h.job(job)
            #expect(view.state == "cancelled")
            #expect(view.copies["cancelled"] == 2)
            await #expect(throws: APIError.self) { try await h.scheduler.control(h.requester, jobID: job, .resume) }
        }

        @Test func releasedDoesNotCountAnAttemptButAFailureDoes() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 1)
            let r = try await h.register("r")
            let a = try #require(try await h.claim(r).first)
            let ack = try await h.scheduler.fail(h.runner, assignmentID: a.assignmentID, FailRequest(runnerID: r, reason: "released"))
            #expect(ack.state == "released")
            #expect(ack.copyState == "queued")
            #expect(try await h.copies(job).first?.attempts == 0)
            let b = try #require(try await h.claim(r).first)
            #expect(b.attempt == 1)
            _ = try await h.scheduler.fail(h.runner, assignmentID: b.assignmentID, FailRequest(runnerID: r, reason: "crashed", message: "boom"))
            let copy = try #require(try await h.copies(job).first)
            #expect(copy.attempts == 1)
            #expect(copy.state == "queued")
            #expect(copy.failReason == "crashed: boom")
            // A repeated fail is answered the same and counts nothing more.
            let again = try await h.scheduler.fail(h.runner, assignmentID: b.assignmentID, FailRequest(runnerID: r, reason: "crashed"))
            #expect(again.state == "failed")
            #expect(try await h.copies(job).first?.attempts == 1)
        }

        @Test func aRepeatedCompleteChangesNothing() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 1)
            let r = try await h.register("r")
            let a = try #require(try await h.claim(r).first)
            let first = try await h.complete(a, by: r, output: "out")
            let before = try await h.runnerView(r)
            let second = try await h.complete(a, by: r, output: "out")
            #expect(first == second)
            #expect(try await h.runnerView(r) == before)
            #expect(try await h.job(job).copies == ["valid": 1])
            await #expect(throws: APIError.self) { try await h.complete(a, by: r, output: "different") }
            await #expect(throws: APIError.self) {
                try await h.scheduler.fail(h.runner, assignmentID: a.assignmentID, FailRequest(runnerID: r, reason: "crashed"))
            }
        }

        @Test func aRunnerNeverHoldsTwoCopiesOfOneUnit() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 3, replicas: 2, quorum: 2)
            let r1 = try await h.register("r1")
            let claimed = try await h.claim(r1, max: 10)
            #expect(claimed.count == 3)
            #expect(Set(claimed.map(\.unitID)).count == 3)
            for a in claimed { try await h.complete(a, by: r1, output: "o") }
            #expect(try await h.claim(r1, max: 10).isEmpty)
            let r2 = try await h.register("r2", volunteer: "another")
            #expect(try await h.claim(r2, max: 10).count == 3)
            _ = job
        }

        @Test func matchingHonoursCapacityArchProfilePauseAndPriority() async throws {
            let h = try Harness()
            let big = try await h.makeJob(units: 1, resources: .init(millicpus: 4000, memoryBytes: 1 << 30))
            let r = try await h.register("small", capacity: Capacity(millicpus: 2000, memoryBytes: 8 << 30, diskBytes: 1 << 30))
            #expect(try await h.claim(r).isEmpty)
            let armOnly = try await h.makeJob(units: 1, resources: .init(millicpus: 100, memoryBytes: 1 << 20, diskBytes: 1 << 20, arch: "aarch64"))
            #expect(try await h.claim(r).isEmpty)
            let strict = try await h.makeJob(units: 1, resources: .init(millicpus: 100, memoryBytes: 1 << 20, diskBytes: 1 << 20), profile: "gpu-net")
            #expect(try await h.claim(r).isEmpty)
            let low = try await h.makeJob(units: 2, priority: 0, resources: .init(millicpus: 1000, memoryBytes: 1 << 20, diskBytes: 1 << 20))
            let high = try await h.makeJob(units: 1, priority: 5, resources: .init(millicpus: 1000, memoryBytes: 1 << 20, diskBytes: 1 << 20))
            try await h.scheduler.control(h.requester, jobID: high, .pause)
            let first = try #require(try await h.claim(r, free: Capacity(millicpus: 1000, memoryBytes: 1 << 30, diskBytes: 1 << 30)).first)
            #expect(first.jobID == low)
            try await h.scheduler.control(h.requester, jobID: high, .resume)
            // The free capacity bounds how many come back at once.
            let next = try await h.claim(r, max: 5, free: Capacity(millicpus: 2000, memoryBytes: 1 << 30, diskBytes: 1 << 30))
            #expect(next.map(\.jobID) == [high, low])
            _ = (big, armOnly, strict)
        }

        @Test func aLateResultIsUsedWhileTheCopyWaitsAndIgnoredOnceReleased() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 1)
            let (r1, r2) = (try await h.register("slow"), try await h.register("fast"))
            let a = try #require(try await h.claim(r1).first)
            h.clock.advance(seconds: 80)
            #expect(try await h.scheduler.sweep().requeued == 1)
            let ack = try await h.complete(a, by: r1, output: "late but fine")
            #expect(ack.counted)
            #expect(try await h.job(job).state == "completed")

            let job2 = try await h.makeJob(units: 1)
            let b = try #require(try await h.claim(r1).first)
            h.clock.advance(seconds: 80)
            try await h.scheduler.sweep()
            let c = try #require(try await h.claim(r2).first)
            #expect(c.jobID == job2)
            let late = try await h.complete(b, by: r1, output: "too late")
            #expect(!late.counted)
            #expect(try await h.job(job2).copies == ["leased": 1])
        }

        @Test func concurrentClaimsInOneProcessNeverShareACopy() async throws {
            let h = try Harness()
            try await h.makeJob(units: 200)
            var runners: [String] = []
            for i in 0..<16 { runners.append(try await h.register("r\(i)")) }
            let all = try await withThrowingTaskGroup(of: [String].self) { group in
                for r in runners {
                    group.addTask {
                        var mine: [String] = []
                        while true {
                            let got = try await h.claim(r, max: 2)
                            if got.isEmpty { return mine }
                            mine += got.map { "\($0.jobID)/\($0.unitID)" }
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(all.count == 200)
            #expect(Set(all).count == 200)
        }

        /// A restarted runner naming its old id keeps its row and reputation; the copies it held are
        /// requeued at once (counting an attempt), not at lease expiry; an unknown id registers anew.
        @Test func reregisteringKeepsTheRunnerAndRequeuesWhatItHeld() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 2)
            let r = try await h.register("r1")
            let first = try #require(try await h.claim(r).first)
            _ = try await h.complete(first, by: r, output: "out")
            let held = try #require(try await h.claim(r).first)
            #expect(held.attempt == 1)
            #expect(try await h.runnerView(r).reputation == 1)

            let again = try await h.scheduler.register(
                h.runner, RegisterRequest(name: "r1-restarted", capacity: Harness.full, arch: "x86_64", profiles: ["default"], version: "2", runnerID: r)
            )
            #expect(again.runnerID == r)
            let view = try await h.runnerView(r)
            #expect(view.reputation == 1 && view.name == "r1-restarted" && view.version == "2")
            let states = try await h.copies(job).map(\.state).sorted()
            #expect(states == ["queued", "valid"], "\(states)")
            #expect(try await h.claim(r).first?.attempt == 2)

            let unknown = try await h.scheduler.register(
                h.runner, RegisterRequest(name: "fresh", capacity: Harness.full, arch: "x86_64", profiles: ["default"], version: "1", runnerID: "999999")
            )
            #expect(unknown.runnerID != r)
        }
    }
}
