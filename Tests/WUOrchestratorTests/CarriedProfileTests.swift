import FoundationEssentials
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import WUCore
import WUProtocol

@testable import WUOrchestrator

#if canImport(Glibc)
import Glibc
#endif

extension OrchestratorTests {
    /// A bundle carrying its own profile, through `POST /v1/jobs` and claim matching: refused (422, naming what
    /// it adds) when it is wider than every built-in profile, admitted and offered only to runners allowing a
    /// profile it fits within otherwise. Malformed profiles, which `wu pack` would refuse, are packed here by a
    /// packer that skips the check, as a hostile requester's would.
    @Suite struct CarriedProfileTests {
        /// `sandbox-profiles/<base>.json` renamed, with extra text spliced in after the given keys' openings.
        static func variant(
            of base: String, name: String, syscall: String? = nil, mount: String? = nil, environment: String? = nil, replace: (String, String)? = nil
        ) throws -> String {
            let root = String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/"))
            var text = String(decoding: try read("/" + root + "/sandbox-profiles/" + base + ".json"), as: UTF8.self)
            text = text.replacing(#""name": "\#(base)""#, with: #""name": "\#(name)""#)
            if let syscall { text = text.replacing(#""syscalls": ["#, with: #""syscalls": [{"names": ["\#(syscall)"], "action": "SCMP_ACT_ALLOW"},"#) }
            if let mount { text = text.replacing(#""mounts": ["#, with: #""mounts": [{"source": "\#(mount)"},"#) }
            if let environment { text = text.replacing(#""environment": {"#, with: #""environment": {\#(environment),"#) }
            if let replace { text = text.replacing(replace.0, with: replace.1) }
            return text
        }

        /// Packs a one-unit job carrying `profile` as `profile.json`; `checked: false` skips `wu pack`'s profile
        /// check (the name given is what the manifest records).
        static func pack(_ profile: String, in directory: String, key: SigningKey, checked: Bool = true, name: String = "hostile") throws -> [UInt8] {
            let job = directory + "/job"
            for dir in [directory, job, job + "/code"] { mkdir(dir, 0o755) }
            try write(
                job + "/wu.json",
                #"{"name": "carried", "command": ["/bin/sh", "-c", "echo hi > /out/x"], "profile": {"file": "profile.json"}, "units": [{"id": "u"}]}"#
            )
            try write(job + "/code/run.sh", "echo hi > /out/x\n")
            try write(job + "/profile.json", profile)
            let check: BundlePacker.ProfileCheck? = checked ? nil : { _, _ in name }
            _ = try BundlePacker.pack(jobDirectory: job, key: key, output: directory + "/job.wu", checkProfile: check)
            return try read(directory + "/job.wu")
        }

        func withClient(_ h: Harness, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
            let app = Application(router: h.orchestrator.router())
            try await app.test(.router) { client in try await body(client) }
        }

        static func error(_ response: TestResponse) throws -> (code: String, message: String) {
            let decoded = try JSONDecoder().decode(ErrorResponse.self, from: Data(response.body.readableBytesView))
            return (decoded.error.code, decoded.error.message)
        }

        /// A hostile profile built to make the comparison explode (hundreds of rules, each with six interval and
        /// inequality conditions) is answered with a 4xx in bounded time, never a 500 or a hang.
        @Test func aPathologicalProfileIsRefusedInBoundedTime() async throws {
            let h = try Harness()
            let key = SigningKey.generate(name: "alice")
            try KeyAdmin(store: h.orchestrator.store).add(name: "alice", publicKeyFile: key.publicKey.fileContents)
            let ops = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_GT", "SCMP_CMP_NE", "SCMP_CMP_LE", "SCMP_CMP_GE"]
            let rules = (0..<600).map { i in
                let args = (0..<6).map { j in #"{"index": \#(j), "value": \#(i * 7919 + j * 104729 + 1), "op": "\#(ops[(i + j) % 6])"}"# }
                return #"{"names": ["ioctl", "clone", "prctl"], "action": "SCMP_ACT_ALLOW", "args": [\#(args.joined(separator: ", "))]}"#
            }
            var text = try Self.variant(of: "strict", name: "hostile")
            text = text.replacing(#""syscalls": ["#, with: #""syscalls": ["# + rules.joined(separator: ",\n") + ",")
            let bundle = try Self.pack(text, in: h.directory + "/hostile", key: key)
            try await withClient(h) { client in
                let started = ContinuousClock.now
                let response = try await client.executeRequest(
                    uri: "/v1/jobs", method: .post, headers: RouterTests.auth(h.requesterToken), body: ByteBuffer(bytes: bundle)
                )
                let elapsed = ContinuousClock.now - started
                #expect(response.status == .unprocessableContent, "\(String(buffer: response.body))")
                let refusal = try Self.error(response)
                #expect(refusal.code == "profile-too-wide")
                #expect(refusal.message.utf8.count < 32 << 10, "the refusal is \(refusal.message.utf8.count) bytes")
                #expect(refusal.message.contains("syscalls clone: flags != "), "\(refusal.message.prefix(2000))")
                #expect(elapsed < .seconds(30), "\(elapsed)")
            }
        }

        @Test func widerProfilesAreRefusedNarrowerOnesOfferedOnlyToMatchingRunners() async throws {
            let h = try Harness()
            let key = SigningKey.generate(name: "alice")
            try KeyAdmin(store: h.orchestrator.store).add(name: "alice", publicKeyFile: key.publicKey.fileContents)
            let ptrace = try Self.pack(try Self.variant(of: "default", name: "tracer", syscall: "ptrace"), in: h.directory + "/ptrace", key: key)
            let home = try Self.pack(try Self.variant(of: "default", name: "home", mount: "/home"), in: h.directory + "/home", key: key)
            let broken = try Self.pack("{\"name\": \"hostile\", ", in: h.directory + "/broken", key: key, checked: false)
            let unknown = try Self.pack(
                try Self.variant(of: "strict", name: "hostile", syscall: "frobnicate"), in: h.directory + "/unknown", key: key, checked: false
            )
            let renamed = try Self.pack(try Self.variant(of: "strict", name: "other"), in: h.directory + "/renamed", key: key, checked: false, name: "liar")
            // Within default (it is default, renamed) but wider than strict; and one narrower than strict.
            let mid = try Self.pack(try Self.variant(of: "default", name: "mine"), in: h.directory + "/mid", key: key)
            let narrow = try Self.pack(
                try Self.variant(of: "strict", name: "tight", environment: #""CARRIED": "yes""#, replace: (#""max_memory": "64G""#, #""max_memory": "8G""#)),
                in: h.directory + "/narrow", key: key
            )

            try await withClient(h) { client in
                let alice = RouterTests.auth(h.requesterToken)
                func submit(_ bundle: [UInt8]) async throws -> TestResponse {
                    try await client.executeRequest(uri: "/v1/jobs", method: .post, headers: alice, body: ByteBuffer(bytes: bundle))
                }
                let refusedPtrace = try await submit(ptrace)
                #expect(refusedPtrace.status == .unprocessableContent)
                let p = try Self.error(refusedPtrace)
                #expect(p.code == "profile-too-wide")
                #expect(p.message.contains("profile 'tracer' is wider than every profile runners allow"), "\(p.message)")
                #expect(p.message.contains("beyond 'default': syscalls ptrace"), "\(p.message)")
                #expect(p.message.contains("beyond 'strict': "), "\(p.message)")

                let refusedHome = try await submit(home)
                #expect(refusedHome.status == .unprocessableContent)
                let m = try Self.error(refusedHome)
                #expect(m.code == "profile-too-wide" && m.message.contains("paths /home: read-only"), "\(m.message)")

                for (bundle, expected) in [(broken, "not valid JSON"), (unknown, "unknown syscall 'frobnicate'"), (renamed, "the signed manifest says 'liar'")] {
                    let response = try await submit(bundle)
                    #expect(response.status == .unprocessableContent)
                    let e = try Self.error(response)
                    #expect(e.code == "invalid-profile" && e.message.contains(expected), "\(e.message)")
                }

                var ids: [String] = []
                for bundle in [mid, narrow] {
                    let accepted = try await submit(bundle)
                    #expect(accepted.status.code < 300, "\(String(buffer: accepted.body))")
                    ids.append(try RouterTests.decode(SubmitJobResponse.self, accepted).jobID)
                }
                let (midJob, narrowJob) = (ids[0], ids[1])

                // Nothing refused became a job; a strict-only runner is offered the narrow job only.
                #expect(try await h.scheduler.jobs(h.admin).jobs.count == 2)
                let strictOnly = try await h.register("strict-only", profiles: ["strict"])
                #expect(try await h.claim(strictOnly, max: 10).map(\.jobID) == [narrowJob])
                let defaultRunner = try await h.register("default", profiles: ["default"])
                #expect(try await h.claim(defaultRunner, max: 10).map(\.jobID) == [midJob])
            }
        }
    }
}
