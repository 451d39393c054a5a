import Glibc
import Testing
import WUCore
import WUProtocol

@testable import WUProfiles
@testable import WUSandbox

/// A job's own profile (`"profile": {"file": "profile.json"}`): `wu pack` refuses a malformed one naming
/// the problem and pins a good one in the signed manifest; `wu profile check` compares it with the runner's
/// profiles; `wu run` runs the unit under it.
@Suite(.serialized) struct CarriedProfileTests {
    /// The built-in `base` renamed, with extra text spliced in after the given keys' openings.
    static func variant(of base: String, name: String, syscall: String? = nil, environment: String? = nil) -> String {
        var text = SandboxProfile.builtinSource(named: base)!
        text = text.replacing(#""name": "\#(base)""#, with: #""name": "\#(name)""#)
        if let syscall { text = text.replacing(#""syscalls": ["#, with: #""syscalls": [{"names": ["\#(syscall)"], "action": "SCMP_ACT_ALLOW"},"#) }
        if let environment { text = text.replacing(#""environment": {"#, with: #""environment": {\#(environment),"#) }
        return text
    }

    /// A one-unit job directory carrying `profile` (when given) as `profile.json`; returns its path.
    static func job(in dir: String, profile: String?, spec: String? = nil) throws -> String {
        let job = dir + "/job"
        try FileSystem.makeDirectories(job + "/code")
        let wu =
            spec
            ?? #"{"name": "carried", "command": ["/bin/sh", "-c", "echo $CARRIED > /out/mark"], "profile": {"file": "profile.json"}, "units": [{"id": "u"}]}"#
        try FileSystem.writeFile(job + "/wu.json", Array(wu.utf8))
        try FileSystem.writeFile(job + "/code/x", Array("x\n".utf8))
        if let profile { try FileSystem.writeFile(job + "/profile.json", Array(profile.utf8)) }
        return job
    }

    static func pack(_ job: String, to bundle: String, key: SigningKey = .generate(name: "carried")) throws -> BundlePacker.Packed {
        try BundlePacker.pack(jobDirectory: job, key: key, output: bundle, checkProfile: SandboxProfile.checkForPacking)
    }

    static func refusal(_ profile: String?, spec: String? = nil) throws -> String {
        try ProfileCheckTests.withDirectory { dir in
            let directory = try Self.job(in: dir, profile: profile, spec: spec)
            do {
                _ = try Self.pack(directory, to: dir + "/job.wu")
            } catch let error as WUError {
                #expect(error.code == .invalidJobSpec)
                #expect(!FileSystem.exists(dir + "/job.wu"), "a bundle was written")
                return error.message
            }
            Issue.record("packed")
            return ""
        }
    }

    @Test func packRefusesAMalformedProfileNamingTheProblem() throws {
        #expect(try Self.refusal("{\"name\": \"x\", ").contains("job/profile.json: not valid JSON"))
        let unknown = try Self.refusal(Self.variant(of: "strict", name: "mine", syscall: "frobnicate"))
        #expect(unknown.contains("job/profile.json: seccomp.syscalls[0].names: unknown syscall 'frobnicate'"), "\(unknown)")
        let key = try Self.refusal(Self.variant(of: "strict", name: "mine").replacing(#""network": "none","#, with: #""network": "none", "writable": ["/"],"#))
        #expect(key.contains("unknown key \"writable\""), "\(key)")
        #expect(try Self.refusal(Self.variant(of: "strict", name: "no/slash")).contains("'no/slash' must be 1 to 64"))
        #expect(try Self.refusal(nil).contains("profile.file: cannot find profile.json in the job directory"))
        let outside = try Self.refusal(
            nil, spec: #"{"name": "c", "command": ["/bin/true"], "profile": {"file": "../etc/passwd"}, "units": [{"id": "u"}]}"#
        )
        #expect(outside.contains("profile.file must be a relative path inside the job directory"), "\(outside)")
        let shape = try Self.refusal(nil, spec: #"{"name": "c", "command": ["/bin/true"], "profile": 3, "units": [{"id": "u"}]}"#)
        #expect(shape.contains(#"{"file": "profile.json"}"#), "\(shape)")
        let string = try Self.refusal(nil, spec: #"{"name": "c", "command": ["/bin/true"], "profile": "mine.json", "units": [{"id": "u"}]}"#)
        #expect(string.contains(#"looks like a file: a job's own profile is {"file": "mine.json"}"#), "\(string)")
    }

    @Test func packPinsTheProfileAndProfileCheckComparesIt() throws {
        try ProfileCheckTests.withDirectory { dir in
            let text = Self.variant(of: "default", name: "mine", environment: #""CARRIED": "yes""#)
            let key = SigningKey.generate(name: "carried")
            let packed = try Self.pack(try Self.job(in: dir, profile: text), to: dir + "/job.wu", key: key)
            #expect(packed.manifest.profile == "mine")
            #expect(packed.manifest.profileFile == Manifest.profileEntryName)
            #expect(packed.manifest.profileFileEntry?.sha256 == Digest.sha256(Array(text.utf8)))
            #expect(packed.manifest.files.map(\.path) == ["WU-PROFILE.json", "code/x"])
            #expect(packed.manifest.files(forUnit: "u").map(\.path) == ["code/x"])
            let verified = try BundleReader.verify(.file(dir + "/job.wu"), trusting: TrustStore(keys: [key.publicKey]))
            #expect(verified.manifest == packed.manifest)
            #expect(BundleDescription.text(of: packed.manifest, signerKeyID: key.publicKey.keyID).contains("profile    mine (carried in the bundle: WU-PROFILE.json"))

            let strictOnly = try ProfileCheck(bundle: dir + "/job.wu", allowed: ["strict"])
            #expect(!strictOnly.passes && strictOnly.carried && strictOnly.within == nil)
            #expect(strictOnly.problems.first?.hasPrefix("profile 'mine' is wider than every profile this runner allows (beyond 'strict': ") == true)
            #expect(strictOnly.text.contains("profile  mine (carried in the bundle): NOT ALLOWED (this runner allows: strict)"))
            let both = try ProfileCheck(bundle: dir + "/job.wu", allowed: ["strict", "default"])
            #expect(both.passes && both.within == "default", "\(both.problems)")
        }
    }

    /// The carried profile is what runs: its environment reaches the unit.
    @Test(.enabled(if: isRoot, "needs root for cgroups")) func wuRunRunsUnderTheCarriedProfile() async throws {
        let dir = "/tmp/wu-carried-run-\(getpid())"
        FileSystem.removeTree(dir)
        try FileSystem.makeDirectories(dir)
        defer { FileSystem.removeTree(dir) }
        let key = SigningKey.generate(name: "carried")
        let text = Self.variant(of: "strict", name: "tight", environment: #""CARRIED": "carried""#)
        _ = try Self.pack(try Self.job(in: dir, profile: text), to: dir + "/job.wu", key: key)
        try FileSystem.writeFile(dir + "/k.pub", Array(key.publicKey.fileContents.utf8))
        let reports = try await LocalJob.run(.init(bundle: dir + "/job.wu", trustedKeys: [dir + "/k.pub"], outputDirectory: dir + "/out"))
        #expect(reports.count == 1 && reports[0].succeeded, "\(reports.first?.error ?? reports.first?.usage?.stderrTail ?? "")")
        #expect(FileSystem.readText(dir + "/out/u/out/mark") == "carried\n")
    }
}
