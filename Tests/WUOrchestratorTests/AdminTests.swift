import GRDB
import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

extension OrchestratorTests {
    /// `wu-orchestrator token …` and `keys …` as library calls, on the store file the server uses.
    @Suite struct AdminTests {
        @Test func tokensAreRandomHashedListedAndRevoked() throws {
            let h = try Harness()
            let tokens = TokenAdmin(store: h.orchestrator.store)
            let a = try tokens.create(role: .runner, name: "volunteers")
            let b = try tokens.create(role: .runner, name: "volunteers-2")
            #expect(a.hasPrefix("wu_"))
            #expect(a.count == 3 + 64)
            #expect(a != b)
            let stored = try h.orchestrator.store.pool.read { db in try String.fetchAll(db, sql: "SELECT hash FROM token") }
            #expect(!stored.contains(a))
            #expect(stored.contains(Hex.sha256(a)))
            let listed = try tokens.list()
            #expect(listed.map(\.name).contains("volunteers"))
            #expect(listed.first { $0.name == "volunteers" }?.role == .runner)
            #expect(try tokens.revoke("volunteers") == 1)
            #expect(try tokens.list().first { $0.name == "volunteers" }?.revoked == true)
            #expect(throws: WUError.self) { try tokens.revoke("volunteers") }
            #expect(throws: WUError.self) { try tokens.create(role: .admin, name: "") }
            // A second store on the same file (the CLI while the server runs) sees the same tokens.
            let other = try OrchestratorStore(dataDirectory: h.orchestrator.config.dataDirectory)
            #expect(try TokenAdmin(store: other).list().count == listed.count)
        }

        @Test func keysAreAddedListedAndRemoved() throws {
            let h = try Harness()
            let keys = KeyAdmin(store: h.orchestrator.store)
            let key = SigningKey.generate(name: "alice")
            let id = try keys.add(name: "alice", publicKeyFile: key.publicKey.fileContents)
            #expect(id == key.publicKey.keyID)
            #expect(try keys.list().map(\.keyID) == [id])
            #expect(throws: WUError.self) { try keys.add(name: "alice", publicKeyFile: key.publicKey.fileContents) }
            #expect(throws: WUError.self) { try keys.add(name: "junk", publicKeyFile: "not a key") }
            let trust = try h.orchestrator.store.pool.read { db in try KeyAdmin.trustStore(db) }
            #expect(trust.key(id: id) != nil)
            try keys.remove("alice")
            #expect(try keys.list().isEmpty)
            #expect(throws: WUError.self) { try keys.remove("alice") }
        }

        /// Jobs belong to the requester's name: after `token revoke alice` and `token create --name alice`,
        /// alice still lists, reads and cancels her jobs; another requester does not; names are one live token each.
        @Test func jobsSurviveATokenRotation() async throws {
            let h = try Harness()
            let tokens = TokenAdmin(store: h.orchestrator.store, clock: h.clock)
            let job = try await h.makeJob(units: 1)
            #expect(throws: WUError.self) { try tokens.create(role: .requester, name: "alice") }
            let oldID = try #require(try tokens.list().first { $0.name == "alice" && !$0.revoked }).id
            #expect(try tokens.revoke(String(oldID)) == 1)
            let rotated = try tokens.create(role: .requester, name: "alice")
            let bob = try tokens.create(role: .requester, name: "bob")
            let now = h.clock.now()
            let (alice, other) = try await h.orchestrator.store.pool.read { db in
                (try TokenAdmin.identify(db, token: rotated, now: now)!, try TokenAdmin.identify(db, token: bob, now: now)!)
            }
            #expect(try await h.scheduler.jobs(alice).jobs.map(\.jobID) == [job])
            #expect(try await h.scheduler.job(alice, job).owner == "alice")
            #expect(try await h.scheduler.jobs(other).jobs.isEmpty)
            await #expect(throws: (any Error).self) { try await h.scheduler.job(other, job) }
        }
    }
}
