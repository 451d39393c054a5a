import GRDB
import HTTPTypes
import Testing
import WUProtocol

@testable import WUCore
@testable import WUOrchestrator

extension OrchestratorTests {
    /// `complete` accepts only a blob the completing runner's volunteer uploaded (issue 14 §4): a
    /// stored blob's digest is not enough, since naming it grants the job's requester read access.
    @Suite struct BlobOwnershipTests {
        /// Expects `complete` to be answered 409 `blob-missing`, as for a blob never stored, with the copy still leased.
        static func expectRefused(_ h: Harness, _ a: Assignment, by runner: String, _ output: OutputArchive.Summary) async throws {
            let error = await #expect(throws: APIError.self) {
                try await h.complete(a, by: runner, outputDigest: output.outputDigest, blobDigest: output.blobDigest!)
            }
            #expect(error?.status == .conflict)
            #expect(error?.code == "blob-missing", "\(error?.message ?? "")")
            let unit = try await h.scheduler.units(h.admin, a.jobID).units.first { $0.unitID == a.unitID }
            #expect(unit?.copies.map(\.state) == ["leased"])
        }

        @Test func aRunnerCannotCompleteWithABlobAnotherVolunteerUploaded() async throws {
            let h = try Harness()
            try await h.makeJob(units: 2)
            let runnerA = try await h.register("a", volunteer: "a")
            let runnerB = try await h.register("b", volunteer: "b")
            let unitOfA = try #require(try await h.claim(runnerA).first)
            let unitOfB = try #require(try await h.claim(runnerB).first)
            let uploadedByA = try h.output("the same bytes", by: try h.volunteer("a"))
            try await Self.expectRefused(h, unitOfB, by: runnerB, uploadedByA)
            #expect(try await !h.scheduler.mayRead(h.requester, blob: uploadedByA.blobDigest!))
            // A completes with its own blob; B, once it uploads the same bytes itself, may name them too.
            #expect(try await h.complete(unitOfA, by: runnerA, outputDigest: uploadedByA.outputDigest, blobDigest: uploadedByA.blobDigest!).copyState == "valid")
            try h.upload(try FileIO.readFile(h.orchestrator.blobs.path(uploadedByA.blobDigest!)), by: try h.volunteer("b"))
            #expect(try await h.complete(unitOfB, by: runnerB, outputDigest: uploadedByA.outputDigest, blobDigest: uploadedByA.blobDigest!).copyState == "valid")
        }

        @Test func aRequesterCannotBeGrantedABlobOfAnotherJob() async throws {
            let h = try Harness()
            let bobToken = try TokenAdmin(store: h.orchestrator.store, clock: h.clock).create(role: .requester, name: "bob")
            let now = h.clock.now()
            let bob = try await h.orchestrator.store.pool.read { db in try TokenAdmin.identify(db, token: bobToken, now: now)! }
            // Job Y is bob's: volunteer A runs it and its output is bob's alone.
            let jobY = try await h.makeJob(units: 1, owner: bob)
            let runnerA = try await h.register("a", volunteer: "a")
            let unitOfY = try #require(try await h.claim(runnerA).first)
            #expect(unitOfY.jobID == jobY)
            let outputOfY = try h.output("bob's secret", by: try h.volunteer("a"))
            try await h.complete(unitOfY, by: runnerA, outputDigest: outputOfY.outputDigest, blobDigest: outputOfY.blobDigest!)
            #expect(try await h.scheduler.mayRead(bob, blob: outputOfY.blobDigest!))
            // Job X is alice's: volunteer B names Y's blob for it.
            let jobX = try await h.makeJob(units: 1)
            let runnerB = try await h.register("b", volunteer: "b")
            let unitOfX = try #require(try await h.claim(runnerB).first)
            #expect(unitOfX.jobID == jobX)
            try await Self.expectRefused(h, unitOfX, by: runnerB, outputOfY)
            #expect(try await !h.scheduler.mayRead(h.requester, blob: outputOfY.blobDigest!), "alice was granted bob's output")
        }
    }
}
