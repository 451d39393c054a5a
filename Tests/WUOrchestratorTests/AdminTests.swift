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
    }
}
