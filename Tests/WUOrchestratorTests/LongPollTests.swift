import FoundationEssentials
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WUProtocol

@testable import WUOrchestrator

extension OrchestratorTests {
    /// Long-polling claims and server-sent events: both wait for something to happen.
    @Suite struct LongPollTests {
        @Test func aWaitingClaimAnswersAsSoonAsWorkArrives() async throws {
            let h = try Harness()
            let r = try await h.register("r")
            let started = ContinuousClock.now
            let assignments = try await withThrowingTaskGroup(of: [Assignment].self) { group in
                group.addTask {
                    try await h.scheduler.claim(h.runner, ClaimRequest(runnerID: r, free: Harness.full, wait: 30)).assignments
                }
                group.addTask {
                    // Submit once the claim is waiting.
                    while h.scheduler.signal.waiterCount == 0 { try await Task.sleep(for: .milliseconds(1)) }
                    try await h.makeJob(units: 1)
                    return []
                }
                var all: [Assignment] = []
                for try await part in group { all += part }
                return all
            }
            #expect(assignments.count == 1)
            #expect(started.duration(to: .now) < .seconds(10))
        }

        @Test func shutdownEndsWaitingClaimsAtOnce() async throws {
            let h = try Harness()
            let r = try await h.register("r")
            let started = ContinuousClock.now
            async let claim = h.scheduler.claim(h.runner, ClaimRequest(runnerID: r, free: Harness.full, wait: 30))
            while h.scheduler.signal.waiterCount == 0 { try await Task.sleep(for: .milliseconds(1)) }
            h.scheduler.shutdown()
            #expect(try await claim.assignments.isEmpty)
            #expect(started.duration(to: .now) < .seconds(10))
            // After shutdown nothing waits.
            #expect(try await h.scheduler.claim(h.runner, ClaimRequest(runnerID: r, free: Harness.full, wait: 30)).assignments.isEmpty)
        }

        @Test func eventsAreStreamedAndFilteredByRole() async throws {
            let h = try Harness()
            let app = Application(router: h.orchestrator.router())
            try await app.test(.router) { client in
                let (owner, stranger) = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                    for (index, token) in [h.requesterToken, try TokenAdmin(store: h.orchestrator.store).create(role: .requester, name: "bob")]
                        .enumerated()
                    {
                        group.addTask {
                            let response = try await client.executeRequest(
                                uri: "/v1/events",
                                method: .get,
                                headers: [.authorization: "Bearer \(token)"],
                                body: nil
                            )
                            #expect(response.headers[.contentType] == "text/event-stream")
                            return (index, String(buffer: response.body))
                        }
                    }
                    group.addTask {
                        while h.scheduler.events.subscriberCount < 2 { try await Task.sleep(for: .milliseconds(1)) }
                        let job = try await h.makeJob(units: 1)
                        try await h.scheduler.control(h.requester, jobID: job, .cancel)
                        h.scheduler.events.finishAll()
                        return (-1, "")
                    }
                    var bodies: [Int: String] = [:]
                    for try await (index, body) in group { bodies[index] = body }
                    return (bodies[0] ?? "", bodies[1] ?? "")
                }
                #expect(owner.contains("event: job"))
                #expect(owner.contains(#""state":"cancelled""#))
                #expect(!stranger.contains("event: job"))
                #expect(stranger.contains(": connected"))
            }
        }
    }
}
