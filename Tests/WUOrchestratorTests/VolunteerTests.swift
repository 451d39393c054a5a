import GRDB
import HTTPTypes
import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

extension OrchestratorTests {
    /// One volunteer (one runner token) cannot fill a quorum, whatever number of runner ids it registers;
    /// its reputation is the token's; disagreeing copies end the unit instead of waiting forever.
    @Suite struct VolunteerTests {
        /// A store from before volunteers: each token's runners' credit becomes the token's, and old
        /// assignments learn their token, so distinctness holds for copies leased before the upgrade.
        @Test func theMigrationSumsRunnersCreditIntoTheirToken() throws {
            let directory = try Harness.temporaryDirectory()
            defer { Harness.remove(directory) }
            // Only the rows the migration reads: the assignment's copy, unit and job are left out.
            var configuration = Configuration()
            configuration.foreignKeysEnabled = false
            let queue = try DatabaseQueue(path: directory + "/old.sqlite", configuration: configuration)
            try Migrations.migrator.migrate(queue, upTo: "v2-job-profile-bases")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO token (id, name, role, hash, created_at) VALUES (1, 'pool', 'runner', 'h', 0);
                        INSERT INTO runner (id, token_id, name, millicpus, memory_bytes, disk_bytes, gpus, arch, profiles, version,
                            registered_at, last_seen_at, reputation, consecutive_valid, valid_count, invalid_count)
                        VALUES (1, 1, 'a', 1, 1, 1, 0, 'x', '[]', 'v', 0, 0, 3, 3, 3, 0),
                               (2, 1, 'b', 1, 1, 1, 0, 'x', '[]', 'v', 0, 0, -5, 0, 0, 1);
                        INSERT INTO assignment (id, copy_id, unit_id, runner_id, state, leased_at) VALUES (1, 1, 1, 2, 'leased', 0);
                        """
                )
            }
            try Migrations.migrator.migrate(queue)
            try queue.read { db in
                let row = try #require(try Row.fetchOne(db, sql: "SELECT * FROM volunteer WHERE token_id = 1"))
                let (reputation, valid, invalid): (Int, Int, Int) = (row["reputation"], row["valid_count"], row["invalid_count"])
                #expect(reputation == -2 && valid == 3 && invalid == 1)
                #expect(try Int64.fetchOne(db, sql: "SELECT token_id FROM assignment WHERE id = 1") == 1)
            }
        }

        @Test func twoRunnersUnderOneTokenNeverBothGetCopiesOfOneUnit() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 2, replicas: 2, quorum: 2)
            let m1 = try await h.register("mallory-1", volunteer: "mallory")
            let m2 = try await h.register("mallory-2", volunteer: "mallory")
            let first = try await h.claim(m1, max: 10)
            #expect(first.count == 2, "one copy of each unit")
            #expect(try await h.claim(m2, max: 10).isEmpty, "the second id of the same token got a copy of a unit the first holds")
            for a in first { try await h.complete(a, by: m1, output: "forged") }
            #expect(try await h.claim(m2, max: 10).isEmpty, "after completing, the token still may not take the other copy")
            #expect(try await h.job(job).state == "running")

            let (bob, carol) = (try await h.register("bob", volunteer: "bob"), try await h.register("carol", volunteer: "carol"))
            for a in try await h.claim(bob, max: 10) { try await h.complete(a, by: bob, output: "honest") }
            // No agreement: extra copies, which mallory's ids may still not take.
            #expect(try await h.claim(m2, max: 10).isEmpty)
            for a in try await h.claim(carol, max: 10) { try await h.complete(a, by: carol, output: "honest") }
            let view = try await h.job(job)
            #expect(view.state == "completed")
            #expect(try await h.runnerView(m2).reputation == -10, "mallory's ids share the two invalid copies")
        }

        @Test func aTokensReputationSurvivesRegisteringANewRunnerID() async throws {
            let h = try Harness()
            try await h.makeJob(units: 1, replicas: 3, quorum: 2)
            var runners: [String: String] = [:]
            for name in ["mallory", "bob", "carol"] { runners[name] = try await h.register(name, volunteer: name) }
            try await h.complete(try #require(try await h.claim(runners["mallory"]!).first), by: runners["mallory"]!, output: "forged")
            for name in ["bob", "carol"] { try await h.complete(try #require(try await h.claim(runners[name]!).first), by: runners[name]!, output: "right") }
            #expect(try await h.runnerView(runners["mallory"]!).reputation == -5)

            // A fresh runner id under the same token, without naming the old one: the same volunteer.
            let fresh = try await h.register("mallory-again", volunteer: "mallory")
            #expect(fresh != runners["mallory"])
            let view = try await h.runnerView(fresh)
            #expect(view.reputation == -5 && view.invalid == 1 && view.consecutiveValid == 0)
            // Nor does rotating the token: the volunteer is its name, as a requester's jobs are.
            let tokens = TokenAdmin(store: h.orchestrator.store, clock: h.clock)
            try tokens.revoke("mallory")
            let rotated = try tokens.create(role: .runner, name: "mallory")
            let now = h.clock.now()
            let identity = try #require(try await h.orchestrator.store.read { db in try TokenAdmin.identify(db, token: rotated, now: now) })
            let third = try await h.scheduler.register(
                identity, RegisterRequest(name: "mallory-3", capacity: Harness.full, arch: "x86_64", profiles: ["default"], version: "t")
            )
            #expect(try await h.runnerView(third.runnerID).reputation == -5)
            let board = try await h.scheduler.leaderboard().runners
            #expect(board.filter { $0.name == "mallory" }.count == 1, "\(board)")
            let mallory = try #require(board.first { $0.name == "mallory" })
            #expect(mallory.reputation == -5 && mallory.runners == 3 && mallory.rank == 3)
        }

        @Test func withDistinctByRunnerOneTokensPoolMayFillAQuorum() async throws {
            let h = try Harness { $0.distinctBy = .runner }
            let job = try await h.makeJob(units: 1, replicas: 2, quorum: 2)
            let (r1, r2) = (try await h.register("pool-1"), try await h.register("pool-2"))
            let (a1, a2) = (try #require(try await h.claim(r1).first), try #require(try await h.claim(r2).first))
            try await h.complete(a1, by: r1, output: "same")
            try await h.complete(a2, by: r2, output: "same")
            #expect(try await h.job(job).state == "completed")
            #expect(try await h.runnerView(r1).reputation == 2, "the pool's token earns for both")
            // Still never two copies of one unit on one runner id.
            try await h.makeJob(units: 1, replicas: 2, quorum: 2)
            #expect(try await h.claim(r1, max: 5).count == 1)
        }

        @Test func aTokenHoldsAtMostTheRunnerLimitAtOnce() async throws {
            let h = try Harness { $0.maxRunnersPerToken = 2 }
            let r1 = try await h.register("one")
            _ = try await h.register("two")
            let refused = await #expect(throws: APIError.self) { try await h.register("three") }
            #expect(refused?.status == .tooManyRequests)
            #expect(refused?.code == "too-many-runners")
            #expect(refused?.message.contains("--max-runners-per-token 2") == true, "\(refused?.message ?? "")")
            // Another volunteer is not affected, and a restart under a known id is not a new runner.
            _ = try await h.register("elsewhere", volunteer: "bob")
            let again = try await h.scheduler.register(
                h.runner, RegisterRequest(name: "one", capacity: Harness.full, arch: "x86_64", profiles: ["default"], version: "2", runnerID: r1)
            )
            #expect(again.runnerID == r1)
            // Once its runners have gone offline (silent 4× the heartbeat TTL), the token may register again.
            h.clock.advance(seconds: 4 * 45 + 1)
            _ = try await h.register("three")
        }

        /// The real scheduler on a real SQLite file: replicas 2, quorum 2, three volunteers, three different
        /// outputs. Every registered volunteer has answered, so the unit ends inconclusive at once with the
        /// digests and a hint, instead of waiting forever for a fourth.
        @Test func disagreeingCopiesEndInconclusiveOnceEveryVolunteerAnswered() async throws {
            let h = try Harness { $0.maxExtraCopies = 10 }
            let job = try await h.makeJob(units: 1, replicas: 2, quorum: 2)
            var runners: [String] = []
            for name in ["a", "b", "c"] { runners.append(try await h.register(name, volunteer: name)) }
            for (index, r) in runners.enumerated() {
                let a = try #require(try await h.claim(r).first, "volunteer \(index) got no copy")
                try await h.complete(a, by: r, output: "run \(index)")
            }
            let view = try await h.job(job)
            #expect(view.state == "failed")
            let unit = try #require(try await h.scheduler.units(h.requester, job).units.first)
            #expect(unit.state == "failed")
            #expect(unit.failure?.reason == "inconclusive", "\(String(describing: unit.failure))")
            let reason = try #require(unit.failureReason)
            #expect(reason.hasPrefix("inconclusive: 3 copies, 3 different outputs"), "\(reason)")
            #expect(reason.contains("outputs differ between runs: make the unit deterministic, or use replicas 1"), "\(reason)")
            #expect(reason.contains("every registered volunteer has run it"), "\(reason)")
            // Each copy's digest is in the unit view, and named in the reason.
            let digests = try (0..<3).map { try h.output("run \($0)").outputDigest }
            #expect(Set(unit.copies.compactMap(\.outputDigest)) == Set(digests))
            for digest in digests { #expect(reason.contains(digest.prefix(12)), "\(reason)") }
            #expect(view.failureReasons.contains { $0.hasPrefix("unit u0: inconclusive: 3 copies") }, "\(view.failureReasons)")
            #expect(!unit.copies.contains { ["queued", "leased"].contains($0.state) })
        }

        @Test func whileAnotherVolunteerCanAnswerAnExtraCopyWaitsForIt() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 1, replicas: 2, quorum: 2)
            var runners: [String] = []
            for name in ["a", "b", "c"] { runners.append(try await h.register(name, volunteer: name)) }
            try await h.complete(try #require(try await h.claim(runners[0]).first), by: runners[0], output: "x")
            try await h.complete(try #require(try await h.claim(runners[1]).first), by: runners[1], output: "y")
            let unit = try #require(try await h.scheduler.units(h.requester, job).units.first)
            #expect(unit.state == "pending")
            #expect(unit.copies.map(\.state).sorted() == ["queued", "uploaded", "uploaded"])
            try await h.complete(try #require(try await h.claim(runners[2]).first), by: runners[2], output: "y")
            #expect(try await h.job(job).state == "completed")
        }
    }
}
