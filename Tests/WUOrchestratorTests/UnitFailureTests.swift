import FoundationEssentials
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

extension OrchestratorTests {
    /// Failed units in words a requester can act on, `on_unit_failure`, and the units listing paged in SQL.
    @Suite struct UnitFailureTests {
        static let resources = Manifest.Resources(millicpus: 500, memoryBytes: 64 << 20, diskBytes: 16 << 20)

        @Test func anOOMUnitNamesItsLimitAndTheKeyToRaise() async throws {
            let h = try Harness { $0.maxAttempts = 2 }
            let job = try await h.makeJob(units: 1, resources: Self.resources)
            let r = try await h.register("r")
            for _ in 0..<2 { try await h.failOOM(try #require(try await h.claim(r).first), by: r) }
            #expect(try await h.job(job).state == "failed")
            let failed = try await h.scheduler.units(h.requester, job, .init(state: "failed", limit: 20)).units
            let failure = try #require(failed.first?.failure)
            #expect(failed.map(\.unitID) == ["u0"])
            #expect(failure.reason == "oom")
            #expect(failure.message == "killed at its memory limit 64M; raise resources.memory")
            #expect(failure.signal == 9)
            #expect(failure.attempts == 2)
        }

        @Test func failingFastKeepsTheRealReasonOfUnitsThatFailedAnAttempt() async throws {
            let h = try Harness { $0.maxAttempts = 2 }
            let job = try await h.makeJob(units: 3, resources: Self.resources)
            let r = try await h.register("r")
            let first = try await h.claim(r, max: 3)
            #expect(first.count == 3)
            // u0 runs out of memory once (it would be retried); u1 twice, which fails the job.
            try await h.failOOM(try #require(first.first { $0.unitID == "u0" }), by: r)
            try await h.failOOM(try #require(first.first { $0.unitID == "u1" }), by: r)
            try await h.failOOM(try #require(try await h.claim(r, max: 3).first { $0.unitID == "u1" }), by: r)
            let view = try await h.job(job)
            #expect(view.state == "failed")
            #expect(view.units == ["failed": 2, "cancelled": 1])
            let units = try await h.scheduler.units(h.requester, job).units
            #expect(units.map(\.state) == ["failed", "failed", "cancelled"])
            #expect(units[0].failure?.message == "killed at its memory limit 64M; raise resources.memory")
        }

        @Test func continuingRunsTheOtherUnitsThenFailsTheJobWithoutItsAggregate() async throws {
            let h = try Harness { $0.maxAttempts = 1 }
            let job = try await h.makeJob(units: 3, aggregate: true, resources: Self.resources, onUnitFailure: .continue)
            let r = try await h.register("r")
            let claimed = try await h.claim(r, max: 3)
            try await h.failOOM(try #require(claimed.first { $0.unitID == "u0" }), by: r)
            #expect(try await h.job(job).state == "running")
            for a in claimed where a.unitID != "u0" { try await h.complete(a, by: r, output: a.unitID) }
            let view = try await h.job(job)
            #expect(view.state == "failed")
            #expect(view.onUnitFailure == "continue")
            #expect(view.units == ["valid": 2, "failed": 1])
            #expect(view.failureReasons.first?.hasPrefix("1 of 3 units failed (on_unit_failure: continue)") == true)
            #expect(try await h.scheduler.units(h.requester, job).units.contains { $0.isAggregate } == false)
        }

        @Test func continuingStopsTheOtherCopiesOfTheFailedUnit() async throws {
            let h = try Harness { $0.maxAttempts = 1 }
            let job = try await h.makeJob(units: 2, replicas: 2, quorum: 2, resources: Self.resources, onUnitFailure: .continue)
            let r1 = try await h.register("r1")
            let r2 = try await h.register("r2")
            let a = try #require(try await h.claim(r1).first)
            #expect(a.unitID == "u0")
            try await h.failOOM(a, by: r1)
            // u0's second copy is not handed out any more; u1's two are.
            let next = try await h.claim(r2, max: 4)
            #expect(next.map(\.unitID) == ["u1"])
            let copies = try await h.scheduler.units(h.requester, job, .init(state: "failed", limit: 5)).units.first?.copies.map(\.state)
            #expect(copies == ["failed", "cancelled"])
        }

        @Test func aLeasedUnitShowsAsLeasedAndPagesFilterByState() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 5, resources: Self.resources)
            let r = try await h.register("r")
            let a = try #require(try await h.claim(r).first)
            let leased = try await h.scheduler.units(h.requester, job, .init(state: "leased", limit: 10))
            #expect(leased.units.map(\.unitID) == [a.unitID])
            #expect(leased.units.map(\.state) == ["leased"])
            #expect(leased.next == nil)
            let pending = try await h.scheduler.units(h.requester, job, .init(state: "pending", limit: 2))
            #expect(pending.units.map(\.unitID) == ["u1", "u2"])
            let rest = try await h.scheduler.units(h.requester, job, .init(state: "pending", limit: 2, after: Int64(try #require(pending.next))))
            #expect(rest.units.map(\.unitID) == ["u3", "u4"])
            await #expect(throws: APIError.self) { try await h.scheduler.units(h.requester, job, .init(state: "bogus")) }
            await #expect(throws: APIError.self) { try await h.scheduler.units(h.requester, job, .init(limit: 0)) }
        }

        @Test func theUnitsRouteTakesStateLimitAndAfter() async throws {
            let h = try Harness { $0.maxAttempts = 1 }
            let job = try await h.makeJob(units: 3, resources: Self.resources, onUnitFailure: .continue)
            let r = try await h.register("r")
            for a in try await h.claim(r, max: 3) { try await h.failOOM(a, by: r) }
            let app = Application(router: h.orchestrator.router())
            try await app.test(.router) { client in
                let auth: HTTPFields = [.authorization: "Bearer \(h.requesterToken)"]
                let first = try await client.executeRequest(uri: "/v1/jobs/\(job)/units?state=failed&limit=2", method: .get, headers: auth, body: nil)
                #expect(first.status == .ok)
                let page = try JSONDecoder().decode(UnitList.self, from: Data(first.body.readableBytesView))
                #expect(page.units.map(\.unitID) == ["u0", "u1"])
                #expect(page.units.first?.failure?.reason == "oom")
                let next = try #require(page.next)
                let second = try await client.executeRequest(uri: "/v1/jobs/\(job)/units?state=failed&limit=2&after=\(next)", method: .get, headers: auth, body: nil)
                #expect(try JSONDecoder().decode(UnitList.self, from: Data(second.body.readableBytesView)).units.map(\.unitID) == ["u2"])
                let bad = try await client.executeRequest(uri: "/v1/jobs/\(job)/units?limit=x", method: .get, headers: auth, body: nil)
                #expect(bad.status == .badRequest)
                let view = try await client.executeRequest(uri: "/v1/jobs/\(job)", method: .get, headers: auth, body: nil)
                let decoded = try JSONDecoder().decode(JobView.self, from: Data(view.body.readableBytesView))
                #expect(decoded.state == "failed")
                #expect(decoded.waiting.isEmpty)
            }
        }
    }
}
