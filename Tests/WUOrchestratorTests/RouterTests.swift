import FoundationEssentials
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

extension OrchestratorTests {
    /// Every route, role and error through the router, without a port.
    @Suite struct RouterTests {
        func withClient(_ h: Harness, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
            let app = Application(router: h.orchestrator.router())
            try await app.test(.router) { client in try await body(client) }
        }

        static func auth(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

        static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

        static func errorCode(_ response: TestResponse) -> String? {
            try? JSONDecoder().decode(ErrorResponse.self, from: Data(response.body.readableBytesView)).error.code
        }

        static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
            try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
        }

        static let registerBody = #"{"name":"r","capacity":{"millicpus":4000,"memory_bytes":8589934592,"disk_bytes":8589934592},"arch":"x86_64"}"#

        @Test func publicRoutes() async throws {
            let h = try Harness()
            try await withClient(h) { client in
                let health = try await client.executeRequest(uri: "/health", method: .get, headers: [:], body: nil)
                #expect(health.status == .ok)
                let metrics = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil)
                #expect(metrics.status == .ok)
                let text = String(buffer: metrics.body)
                #expect(text.contains("wu_copies{state=\"queued\"}"))
                #expect(text.contains("wu_http_request_duration_seconds_count"))
                #expect(text.contains("wu_claims_total"))
                #expect(text.contains("wu_validations_total{result=\"invalid\"}"))
                let shell = try await client.executeRequest(uri: "/", method: .get, headers: [:], body: nil)
                #expect(shell.status == .ok)
                #expect(!String(buffer: shell.body).contains("alice"))
                let missing = try await client.executeRequest(uri: "/nope", method: .get, headers: [:], body: nil)
                #expect(missing.status == .notFound)
                #expect(Self.errorCode(missing) == "not-found")
            }
        }

        @Test func openAPIListsEveryRoute() async throws {
            let h = try Harness()
            try await withClient(h) { client in
                let response = try await client.executeRequest(uri: "/openapi.json", method: .get, headers: [:], body: nil)
                #expect(response.status == .ok)
                struct Doc: Decodable {
                    let openapi: String
                    let paths: [String: [String: AnyCodable]]
                }
                struct AnyCodable: Decodable { init(from decoder: any Decoder) throws {} }
                let doc = try Self.decode(Doc.self, response)
                #expect(doc.openapi.hasPrefix("3."))
                let expected: [(String, String)] = [
                    ("/health", "get"), ("/metrics", "get"), ("/openapi.json", "get"), ("/v1/session", "post"), ("/v1/events", "get"),
                    ("/v1/jobs", "post"), ("/v1/jobs", "get"), ("/v1/jobs/{id}", "get"), ("/v1/jobs/{id}/units", "get"),
                    ("/v1/jobs/{id}/cancel", "post"), ("/v1/jobs/{id}/pause", "post"), ("/v1/jobs/{id}/resume", "post"),
                    ("/v1/jobs/{id}/results", "get"), ("/v1/runners/register", "post"), ("/v1/runners/claim", "post"),
                    ("/v1/runners/heartbeat", "post"), ("/v1/assignments/{id}/complete", "post"), ("/v1/assignments/{id}/fail", "post"),
                    ("/v1/blobs/{sha256}", "get"), ("/v1/blobs/{sha256}", "put"), ("/v1/runners", "get"), ("/v1/leaderboard", "get"),
                    ("/v1/stats", "get"), ("/v1/ops/requeue-stale", "post"),
                ]
                for (path, method) in expected { #expect(doc.paths[path]?[method] != nil, "\(method) \(path)") }
            }
        }

        /// The runner routes take an admin's token as well as a runner's (an operator may run a runner
        /// with it); the document said runners only, so a client built from it was told wrong.
        @Test func runnerRoutesListTheRolesTheServerTakes() async throws {
            let h = try Harness()
            try await withClient(h) { client in
                let response = try await client.executeRequest(uri: "/openapi.json", method: .get, headers: [:], body: nil)
                struct Operation: Decodable {
                    let roles: [String]?
                    enum CodingKeys: String, CodingKey { case roles = "x-roles" }
                }
                struct Doc: Decodable { let paths: [String: [String: Operation]] }
                let doc = try Self.decode(Doc.self, response)
                for path in ["/v1/runners/register", "/v1/runners/claim", "/v1/runners/heartbeat", "/v1/assignments/{id}/complete", "/v1/assignments/{id}/fail"] {
                    let roles = doc.paths[path]?["post"]?.roles
                    #expect(roles == ["runner", "admin"], "\(path): \(roles ?? [])")
                }
                let admin = try await client.executeRequest(
                    uri: "/v1/runners/register", method: .post, headers: Self.auth(h.adminToken), body: Self.body(Self.registerBody)
                )
                #expect(admin.status == .created)
            }
        }

        @Test func credentialsAndRoles() async throws {
            let h = try Harness()
            try await withClient(h) { client in
                let none = try await client.executeRequest(uri: "/v1/jobs", method: .get, headers: [:], body: nil)
                #expect(none.status == .unauthorized)
                #expect(Self.errorCode(none) == "unauthorized")
                let bad = try await client.executeRequest(
                    uri: "/v1/jobs",
                    method: .get,
                    headers: Self.auth("wu_" + String(repeating: "0", count: 64)),
                    body: nil
                )
                #expect(bad.status == .unauthorized)
                let basic = try await client.executeRequest(uri: "/v1/jobs", method: .get, headers: [.authorization: "Basic abc"], body: nil)
                #expect(basic.status == .unauthorized)
                // Wrong role: 403.
                let cases: [(String, HTTPRequest.Method, String)] = [
                    ("/v1/jobs", .get, h.runnerToken), ("/v1/jobs", .post, h.runnerToken), ("/v1/runners/register", .post, h.requesterToken),
                    ("/v1/runners/claim", .post, h.requesterToken), ("/v1/assignments/1/complete", .post, h.requesterToken),
                    ("/v1/stats", .get, h.requesterToken), ("/v1/stats", .get, h.runnerToken), ("/v1/ops/requeue-stale", .post, h.runnerToken),
                    ("/v1/runners", .get, h.requesterToken), ("/v1/runners", .get, h.runnerToken), ("/v1/runners/heartbeat", .post, h.requesterToken),
                    ("/v1/blobs/\(Harness.codeDigest)", .put, h.requesterToken),
                ]
                for (uri, method, token) in cases {
                    let response = try await client.executeRequest(uri: uri, method: method, headers: Self.auth(token), body: Self.body("{}"))
                    #expect(response.status == .forbidden, "\(method) \(uri)")
                    #expect(Self.errorCode(response) == "forbidden")
                }
                let stats = try await client.executeRequest(uri: "/v1/stats", method: .get, headers: Self.auth(h.adminToken), body: nil)
                #expect(stats.status == .ok)
                // A revoked token stops working at once, on the deferred-auth runner routes too.
                let claimBody = #"{"runner_id":"1","free":{"millicpus":1,"memory_bytes":1,"disk_bytes":1},"wait":0}"#
                try TokenAdmin(store: h.orchestrator.store).revoke("pool")
                let revokedRunner = try await client.executeRequest(
                    uri: "/v1/runners/claim",
                    method: .post,
                    headers: Self.auth(h.runnerToken),
                    body: Self.body(claimBody)
                )
                #expect(revokedRunner.status == .unauthorized)
                let noCredential = try await client.executeRequest(uri: "/v1/runners/claim", method: .post, headers: [:], body: Self.body(claimBody))
                #expect(noCredential.status == .unauthorized)
                try TokenAdmin(store: h.orchestrator.store).revoke("ops")
                let revoked = try await client.executeRequest(uri: "/v1/stats", method: .get, headers: Self.auth(h.adminToken), body: nil)
                #expect(revoked.status == .unauthorized)
            }
        }

        @Test func sessionCookie() async throws {
            let h = try Harness()
            try await withClient(h) { client in
                let wrong = try await client.executeRequest(uri: "/v1/session", method: .post, headers: [:], body: Self.body(#"{"token":"nope"}"#))
                #expect(wrong.status == .unauthorized)
                let response = try await client.executeRequest(
                    uri: "/v1/session",
                    method: .post,
                    headers: [:],
                    body: Self.body(#"{"token":"\#(h.requesterToken)"}"#)
                )
                #expect(response.status == .ok)
                let setCookie = try #require(response.headers[.setCookie])
                #expect(setCookie.contains("HttpOnly"))
                #expect(setCookie.contains("SameSite=Strict"))
                let value = try #require(setCookie.split(separator: ";").first)
                #expect(!value.contains(h.requesterToken))
                let jobs = try await client.executeRequest(uri: "/v1/jobs", method: .get, headers: [.cookie: String(value)], body: nil)
                #expect(jobs.status == .ok)
                let who = try Self.decode(
                    SessionResponse.self,
                    try await client.executeRequest(uri: "/v1/session", method: .get, headers: [.cookie: String(value)], body: nil)
                )
                #expect(who.role == "requester")
                #expect(who.name == "alice")
            }
        }

        @Test func badInputIsA4xxNeverA500() async throws {
            let h = try Harness { $0.maxBlobBytes = 1024 }
            let other = try TokenAdmin(store: h.orchestrator.store).create(role: .runner, name: "other-pool")
            let job = try await h.makeJob(units: 1)
            try await withClient(h) { client in
                let runner = Self.auth(h.runnerToken)
                func post(_ uri: String, _ body: String, _ headers: HTTPFields = Self.auth(h.runnerToken)) async throws -> TestResponse {
                    try await client.executeRequest(uri: uri, method: .post, headers: headers, body: Self.body(body))
                }
                for (body, code) in [
                    ("{", "invalid-json"), ("[]", "invalid-json"), (#"{"name":"r"}"#, "invalid-json"),
                    (#"{"name":1,"capacity":{"millicpus":1,"memory_bytes":1,"disk_bytes":1},"arch":"x"}"#, "invalid-json"),
                    (#"{"name":"r","capacity":{"millicpus":-1,"memory_bytes":1,"disk_bytes":1},"arch":"x"}"#, "invalid-json"),
                    (#"{"name":"r","capacity":{"millicpus":1,"memory_bytes":1,"disk_bytes":1},"arch":"x","extra":true}"#, "invalid-json"),
                    (#"{"name":"","capacity":{"millicpus":1,"memory_bytes":1,"disk_bytes":1},"arch":"x"}"#, "invalid-request"),
                ] {
                    let response = try await post("/v1/runners/register", body)
                    #expect(response.status == .badRequest, "\(body)")
                    #expect(Self.errorCode(response) == code, "\(body)")
                }
                let huge = try await post("/v1/runners/register", String(repeating: " ", count: 5 << 20))
                #expect(huge.status == .contentTooLarge)
                let registered = try Self.decode(RegisterResponse.self, try await post("/v1/runners/register", Self.registerBody))
                let free = #""free":{"millicpus":4000,"memory_bytes":8589934592,"disk_bytes":8589934592}"#
                let unknownRunner = try await post("/v1/runners/claim", #"{"runner_id":"999",\#(free),"wait":0}"#)
                #expect(unknownRunner.status == .notFound)
                let garbageRunner = try await post("/v1/runners/claim", #"{"runner_id":"x y",\#(free),"wait":0}"#)
                #expect(garbageRunner.status == .badRequest)
                #expect(Self.errorCode(garbageRunner) == "invalid-json")
                let foreign = try await post("/v1/runners/claim", #"{"runner_id":"\#(registered.runnerID)",\#(free),"wait":0}"#, Self.auth(other))
                #expect(foreign.status == .forbidden)
                let negativeWait = try await post("/v1/runners/claim", #"{"runner_id":"\#(registered.runnerID)",\#(free),"wait":-1}"#)
                #expect(negativeWait.status == .badRequest)
                let claim = try Self.decode(
                    ClaimResponse.self,
                    try await post("/v1/runners/claim", #"{"runner_id":"\#(registered.runnerID)",\#(free),"wait":0}"#)
                )
                let a = try #require(claim.assignments.first)
                // Complete: bad digests, missing blob, someone else's assignment, unknown assignment.
                let usage = #""usage":{"wall_ms":1}"#
                let badDigest = try await post(
                    "/v1/assignments/\(a.assignmentID)/complete",
                    #"{"runner_id":"\#(registered.runnerID)","output_digest":"zz","blob_digest":"zz",\#(usage)}"#
                )
                #expect(badDigest.status == .badRequest)
                let d = String(repeating: "d", count: 64)
                let noBlob = try await post(
                    "/v1/assignments/\(a.assignmentID)/complete",
                    #"{"runner_id":"\#(registered.runnerID)","output_digest":"\#(d)","blob_digest":"\#(d)",\#(usage)}"#
                )
                #expect(noBlob.status == .conflict)
                #expect(Self.errorCode(noBlob) == "blob-missing")
                let unknown = try await post("/v1/assignments/12345/fail", #"{"runner_id":"\#(registered.runnerID)","reason":"x"}"#)
                #expect(unknown.status == .notFound)
                let noReason = try await post("/v1/assignments/\(a.assignmentID)/fail", #"{"runner_id":"\#(registered.runnerID)","reason":""}"#)
                #expect(noReason.status == .badRequest)
                // Blobs: wrong digest, oversize, bad name, not held.
                let mismatch = try await client.executeRequest(uri: "/v1/blobs/\(d)", method: .put, headers: runner, body: Self.body("hello"))
                #expect(mismatch.status == .badRequest)
                #expect(Self.errorCode(mismatch) == "digest-mismatch")
                let big = String(repeating: "x", count: 2048)
                let oversize = try await client.executeRequest(
                    uri: "/v1/blobs/\(Hex.sha256(big))",
                    method: .put,
                    headers: runner,
                    body: Self.body(big)
                )
                #expect(oversize.status == .contentTooLarge)
                let badName = try await client.executeRequest(uri: "/v1/blobs/..%2F..%2Fetc", method: .get, headers: runner, body: nil)
                #expect(badName.status == .badRequest)
                #expect(Self.errorCode(badName) == "invalid-id")
                // Jobs: unknown, someone else's, illegal transitions, unknown action.
                let alice = Self.auth(h.requesterToken)
                let bob = Self.auth(try TokenAdmin(store: h.orchestrator.store).create(role: .requester, name: "bob"))
                #expect(try await client.executeRequest(uri: "/v1/jobs/999", method: .get, headers: alice, body: nil).status == .notFound)
                #expect(try await client.executeRequest(uri: "/v1/jobs/abc", method: .get, headers: alice, body: nil).status == .notFound)
                #expect(try await client.executeRequest(uri: "/v1/jobs/\(job)", method: .get, headers: bob, body: nil).status == .notFound)
                #expect(try await client.executeRequest(uri: "/v1/jobs/\(job)", method: .get, headers: alice, body: nil).status == .ok)
                let resume = try await post("/v1/jobs/\(job)/resume", "", alice)
                #expect(resume.status == .conflict)
                #expect(try await post("/v1/jobs/\(job)/explode", "", alice).status == .notFound)
                #expect(try await post("/v1/jobs?priority=high", "x", alice).status == .badRequest)
                #expect(try await post("/v1/jobs", "", alice).status == .unprocessableContent)  // no keys registered yet
            }
        }

        /// Who asks comes before any lookup: without a valid runner token, `complete` answers the same
        /// whether or not the blob it names is stored, so nobody can probe which files were submitted.
        @Test func completeAuthenticatesBeforeLookingAnythingUp() async throws {
            let h = try Harness()
            try await h.makeJob(units: 1)
            let r = try await h.register("r")
            let a = try #require(try await h.claim(r).first)
            let stored = try h.output("known file")
            let missing = String(repeating: "e", count: 64)
            try await withClient(h) { client in
                for digest in [stored.blobDigest!, missing] {
                    let body = #"{"runner_id":"\#(r)","output_digest":"\#(stored.outputDigest)","blob_digest":"\#(digest)","usage":{"wall_ms":1}}"#
                    let uri = "/v1/assignments/\(a.assignmentID)/complete"
                    for (headers, status) in [
                        (HTTPFields(), HTTPResponse.Status.unauthorized), (Self.auth("wu_" + String(repeating: "0", count: 64)), .unauthorized),
                        (Self.auth(h.requesterToken), .forbidden),
                    ] {
                        let response = try await client.executeRequest(uri: uri, method: .post, headers: headers, body: Self.body(body))
                        #expect(response.status == status, "\(digest == missing ? "missing" : "stored") blob, \(headers)")
                    }
                }
            }
            #expect(try await h.copies(a.jobID).first?.state == "leased")
        }

        /// A packed, signed bundle through the whole HTTP flow: submit, claim, fetch, complete, results.
        /// An id in a path that is not of the wire's shape (DESIGN.md: 1–64 of `[A-Za-z0-9_-]`) is one JSON
        /// 400, after the credential and role are checked; never a lookup, a 404 or a 500.
        @Test func malformedIDsInPathsAreA400() async throws {
            let h = try Harness()
            try await withClient(h) { client in
                let alice = Self.auth(h.requesterToken)
                let runner = Self.auth(h.runnerToken)
                let usage = #""usage":{"wall_ms":1}"#
                let d = String(repeating: "d", count: 64)
                let complete = #"{"runner_id":"1","output_digest":"\#(d)","blob_digest":"\#(d)",\#(usage)}"#
                for bad in ["..%2F..%2Fetc", "a.b", String(repeating: "x", count: 65), "%C3%A9", "a%20b", "a%00"] {
                    let routes: [(String, HTTPRequest.Method, HTTPFields, String?)] = [
                        ("/v1/jobs/\(bad)", .get, alice, nil), ("/v1/jobs/\(bad)/units", .get, alice, nil),
                        ("/v1/jobs/\(bad)/cancel", .post, alice, ""), ("/v1/jobs/\(bad)/results", .get, alice, nil),
                        ("/v1/assignments/\(bad)/complete", .post, runner, complete),
                        ("/v1/assignments/\(bad)/fail", .post, runner, #"{"runner_id":"1","reason":"x"}"#),
                    ]
                    for (uri, method, headers, body) in routes {
                        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body.map(Self.body))
                        #expect(response.status == .badRequest, "\(method) \(uri)")
                        #expect(Self.errorCode(response) == "invalid-id", "\(method) \(uri)")
                    }
                    // The credential and the role still come first.
                    let anonymous = try await client.executeRequest(
                        uri: "/v1/assignments/\(bad)/fail", method: .post, headers: [:], body: Self.body(#"{"runner_id":"1","reason":"x"}"#)
                    )
                    #expect(anonymous.status == .unauthorized, "\(bad)")
                    let requester = try await client.executeRequest(
                        uri: "/v1/assignments/\(bad)/complete", method: .post, headers: alice, body: Self.body(complete)
                    )
                    #expect(requester.status == .forbidden, "\(bad)")
                }
            }
        }

        /// A known path with a method it does not take: 405 and `Allow` naming the methods it does
        /// (the router alone says 404); an unknown path stays 404.
        @Test func aWrongMethodIsA405WithAllow() async throws {
            let h = try Harness()
            try await withClient(h) { client in
                let cases: [(String, HTTPRequest.Method, String)] = [
                    ("/v1/jobs", .put, "GET, POST"), ("/v1/jobs", .delete, "GET, POST"), ("/v1/jobs/1", .post, "GET"),
                    ("/v1/jobs/1/units", .delete, "GET"), ("/v1/jobs/1/units", .post, "GET"), ("/v1/jobs/1/cancel", .get, "POST"),
                    ("/health", .post, "GET"), ("/", .delete, "GET"), ("/v1/session", .put, "DELETE, GET, POST"),
                    ("/v1/blobs/\(Harness.codeDigest)", .post, "GET, PUT"), ("/v1/runners/claim", .get, "POST"), ("/openapi.json", .patch, "GET"),
                ]
                for (uri, method, allow) in cases {
                    let response = try await client.executeRequest(uri: uri, method: method, headers: Self.auth(h.adminToken), body: nil)
                    #expect(response.status == .methodNotAllowed, "\(method) \(uri)")
                    #expect(response.headers[.allow] == allow, "\(method) \(uri)")
                    #expect(Self.errorCode(response) == "method-not-allowed", "\(method) \(uri)")
                }
                for uri in ["/nope", "/v1/jobs/1/units/2", "/v1"] {
                    let response = try await client.executeRequest(uri: uri, method: .get, headers: Self.auth(h.adminToken), body: nil)
                    #expect(response.status == .notFound, "\(uri)")
                    #expect(response.headers[.allow] == nil)
                }
            }
        }

        /// Every path parameter of the document carries the pattern the server enforces, so a client
        /// generating ids from the document (schemathesis) makes only ids the server reads.
        @Test func openAPIPathParametersCarryTheServersPattern() throws {
            let doc = try JSONDecoder().decode(OpenAPIShape.self, from: Data(OpenAPIDocument.json.utf8))
            #expect(doc.components.responses["MethodNotAllowed"] != nil, "the 405 answer is documented")
            var checked = 0
            for (path, operations) in doc.paths {
                for (method, operation) in operations {
                    for parameter in operation.parameters ?? [] where parameter.location == "path" {
                        let pattern = try #require(parameter.schema.pattern, "\(method) \(path) {\(parameter.name)}")
                        try Self.checkPattern(pattern, digest: parameter.name == "sha256", "\(method) \(path)")
                        checked += 1
                    }
                }
            }
            #expect(checked >= 10, "every id in a path: \(checked)")
        }

        /// `pattern` takes what the server reads and refuses what it refuses.
        static func checkPattern(_ pattern: String, digest: Bool, _ route: String) throws {
            let regex = try Regex(pattern)
            func serverReads(_ id: String) -> Bool { digest ? WireID.isSHA256(id) : WireID.isValid(id) }
            let valid: [String] = digest ? [Harness.codeDigest] : ["1", "job_1-a", String(repeating: "x", count: 64)]
            let invalid: [String] =
                digest
                ? [String(repeating: "A", count: 64), "abc", Harness.codeDigest + "0"]
                : ["../etc", "a.b", String(repeating: "x", count: 65), "é", "a b", ""]
            for id in valid {
                let matches = id.wholeMatch(of: regex) != nil
                #expect(matches && serverReads(id), "\(route): \(id)")
            }
            for id in invalid {
                let matches = id.wholeMatch(of: regex) != nil
                #expect(!matches && !serverReads(id), "\(route): \(id)")
            }
        }

        /// What `openAPIPathParametersCarryTheServersPattern` reads of the document.
        struct OpenAPIShape: Decodable {
            struct Schema: Decodable { let pattern: String? }
            struct Parameter: Decodable {
                let name: String
                let location: String
                let schema: Schema
                enum CodingKeys: String, CodingKey {
                    case name, schema
                    case location = "in"
                }
            }
            struct Operation: Decodable { let parameters: [Parameter]? }
            struct Components: Decodable { let responses: [String: Ignored] }
            struct Ignored: Decodable { init(from decoder: any Decoder) throws {} }
            let paths: [String: [String: Operation]]
            let components: Components
        }

        @Test func submitClaimFetchCompleteResults() async throws {
            let h = try Harness()
            let key = SigningKey.generate(name: "alice")
            try KeyAdmin(store: h.orchestrator.store).add(name: "alice", publicKeyFile: key.publicKey.fileContents)
            let bundle = try Self.packBundle(in: h.directory, key: key)
            let stranger = try Self.packBundle(in: h.directory + "/s", key: SigningKey.generate(name: "mallory"))
            try await withClient(h) { client in
                let alice = Self.auth(h.requesterToken)
                let runner = Self.auth(h.runnerToken)
                let untrusted = try await client.executeRequest(uri: "/v1/jobs", method: .post, headers: alice, body: ByteBuffer(bytes: stranger))
                #expect(untrusted.status == .unprocessableContent)
                #expect(Self.errorCode(untrusted) == "untrusted-key")
                let garbage = try await client.executeRequest(uri: "/v1/jobs", method: .post, headers: alice, body: Self.body("not a bundle"))
                #expect(garbage.status.code >= 400 && garbage.status.code < 500)
                var tampered = bundle
                tampered[tampered.count / 2] ^= 0xff
                let bad = try await client.executeRequest(uri: "/v1/jobs", method: .post, headers: alice, body: ByteBuffer(bytes: tampered))
                #expect(bad.status.code >= 400 && bad.status.code < 500)

                let submitted = try await client.executeRequest(
                    uri: "/v1/jobs?priority=3",
                    method: .post,
                    headers: alice,
                    body: ByteBuffer(bytes: bundle)
                )
                #expect(submitted.status == .created)
                let job = try Self.decode(SubmitJobResponse.self, submitted)
                #expect(job.units == 2)
                #expect(job.copies == 2)
                #expect(job.priority == 3)

                let reg = try Self.decode(
                    RegisterResponse.self,
                    try await client.executeRequest(uri: "/v1/runners/register", method: .post, headers: runner, body: Self.body(Self.registerBody))
                )
                #expect(reg.leaseSeconds == 75)
                let free = #""free":{"millicpus":4000,"memory_bytes":8589934592,"disk_bytes":8589934592}"#
                // Before holding a copy, the runner may not read the job's blobs.
                let manifestDigest = try #require(
                    try await h.scheduler.store.read { db in try String.fetchOne(db, sql: "SELECT manifest_digest FROM job") }
                )
                let early = try await client.executeRequest(uri: "/v1/blobs/\(manifestDigest)", method: .get, headers: runner, body: nil)
                #expect(early.status == .notFound)
                let claim = try Self.decode(
                    ClaimResponse.self,
                    try await client.executeRequest(
                        uri: "/v1/runners/claim",
                        method: .post,
                        headers: runner,
                        body: Self.body(#"{"runner_id":"\#(reg.runnerID)",\#(free),"wait":0,"max":8}"#)
                    )
                )
                #expect(claim.assignments.count == 2)
                for a in claim.assignments {
                    #expect(a.manifestDigest == manifestDigest)
                    let manifest = try await client.executeRequest(uri: "/v1/blobs/\(a.manifestDigest)", method: .get, headers: runner, body: nil)
                    #expect(manifest.status == .ok)
                    #expect(Hex.sha256(Array(manifest.body.readableBytesView)) == a.manifestDigest)
                    let signature = try await client.executeRequest(uri: "/v1/blobs/\(a.signatureDigest)", method: .get, headers: runner, body: nil)
                    _ = try BundleSignature.verify(
                        manifestBytes: Array(manifest.body.readableBytesView),
                        signatureBytes: Array(signature.body.readableBytesView),
                        trusting: TrustStore(keys: [key.publicKey])
                    )
                    #expect(a.files.contains { $0.path == "code/run.sh" })
                    for file in a.files {
                        let blob = try await client.executeRequest(uri: "/v1/blobs/\(file.sha256)", method: .get, headers: runner, body: nil)
                        #expect(blob.status == .ok)
                        #expect(Hex.sha256(Array(blob.body.readableBytesView)) == file.sha256)
                    }
                    let output = try h.output("output of \(a.unitID)")
                    let blob = try read(h.orchestrator.blobs.path(output.blobDigest!))
                    let put = try await client.executeRequest(
                        uri: "/v1/blobs/\(output.blobDigest!)",
                        method: .put,
                        headers: runner,
                        body: ByteBuffer(bytes: blob)
                    )
                    #expect(put.status == .created)
                    let body =
                        #"{"runner_id":"\#(reg.runnerID)","output_digest":"\#(output.outputDigest)","blob_digest":"\#(output.blobDigest!)","usage":{"wall_ms":3,"exit_code":0,"stderr_tail":"ok"}}"#
                    let done = try await client.executeRequest(
                        uri: "/v1/assignments/\(a.assignmentID)/complete",
                        method: .post,
                        headers: runner,
                        body: Self.body(body)
                    )
                    #expect(done.status == .ok)
                    #expect(try Self.decode(AssignmentAck.self, done).copyState == "valid")
                }
                let view = try Self.decode(
                    JobView.self,
                    try await client.executeRequest(uri: "/v1/jobs/\(job.jobID)", method: .get, headers: alice, body: nil)
                )
                #expect(view.state == "completed")
                let units = try Self.decode(
                    UnitList.self,
                    try await client.executeRequest(uri: "/v1/jobs/\(job.jobID)/units", method: .get, headers: alice, body: nil)
                )
                #expect(units.units.map(\.state) == ["valid", "valid"])
                #expect(units.units.first?.copies.first?.usage?.stderrTail == "ok")
                #expect(units.units.first?.copies.first?.runnerName == "r")
                let results = try await client.executeRequest(uri: "/v1/jobs/\(job.jobID)/results", method: .get, headers: alice, body: nil)
                #expect(results.status == .ok)
                let tar = Array(results.body.readableBytesView)
                #expect(tar.count % 512 == 0)
                #expect(String(decoding: tar[0..<100], as: UTF8.self).hasPrefix("one/usage.json"))
                #expect(String(decoding: tar, as: UTF8.self).contains("output of two"))
                // Once the copies are done, the runner no longer reads the blobs.
                let after = try await client.executeRequest(uri: "/v1/blobs/\(manifestDigest)", method: .get, headers: runner, body: nil)
                #expect(after.status == .notFound)
                let requesterRead = try await client.executeRequest(uri: "/v1/blobs/\(manifestDigest)", method: .get, headers: alice, body: nil)
                #expect(requesterRead.status == .ok)
                let board = try Self.decode(
                    Leaderboard.self,
                    try await client.executeRequest(uri: "/v1/leaderboard", method: .get, headers: alice, body: nil)
                )
                #expect(board.runners.first?.reputation == 2)
                let runners = try Self.decode(
                    RunnerList.self,
                    try await client.executeRequest(uri: "/v1/runners", method: .get, headers: Self.auth(h.adminToken), body: nil)
                )
                #expect(runners.runners.first?.status == "active")
                let sweep = try await client.executeRequest(uri: "/v1/ops/requeue-stale", method: .post, headers: Self.auth(h.adminToken), body: nil)
                #expect(try Self.decode(SweepResponse.self, sweep) == SweepResponse(requeued: 0, failed: 0))
            }
        }

        /// Packs a two-unit job with `wu pack`'s library call.
        static func packBundle(in directory: String, key: SigningKey) throws -> [UInt8] {
            let job = directory + "/job"
            for dir in [directory, job, job + "/code", job + "/inputs"] { mkdir(dir, 0o755) }
            try write(
                job + "/wu.json",
                #"""
                {"name": "test-job", "version": "1", "command": ["/bin/sh", "run.sh"],
                 "units": [{"id": "one", "args": ["1"], "inputs": ["inputs/a.txt"]}, {"id": "two", "args": ["2"]}]}
                """#
            )
            try write(job + "/code/run.sh", "echo $1 > /out/x\n")
            try write(job + "/inputs/a.txt", "alpha\n")
            _ = try BundlePacker.pack(jobDirectory: job, key: key, output: directory + "/job.wu")
            return try read(directory + "/job.wu")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

func write(_ path: String, _ text: String) throws {
    guard let f = fopen(path, "w") else { throw WUError(.io, "cannot write \(path)") }
    fputs(text, f)
    fclose(f)
}

func read(_ path: String) throws -> [UInt8] {
    guard let f = fopen(path, "r") else { throw WUError(.io, "cannot read \(path)") }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return bytes
}
