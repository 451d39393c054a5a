import Glibc
import Testing
import WUCore

@testable import WUSandbox

@Suite struct ProfileCheckTests {
    /// Packs a one-unit job asking for `profile` with `resources` (the `wu.json` object) and returns the bundle's path.
    static func pack(profile: String, resources: String, in dir: String) throws -> String {
        let job = dir + "/job"
        try FileSystem.makeDirectories(job + "/code")
        try FileSystem.writeFile(
            job + "/wu.json",
            Array(
                #"{"name": "check", "command": ["/bin/sh", "run.sh"], "profile": "\#(profile)", "resources": \#(resources), "units": [{"id": "u1"}]}"#
                    .utf8
            )
        )
        try FileSystem.writeFile(job + "/code/run.sh", Array("echo hi > /out/a\n".utf8), mode: 0o755)
        let output = dir + "/job.wu"
        _ = try BundlePacker.pack(jobDirectory: job, key: SigningKey.generate(name: "check-test"), output: output)
        return output
    }

    static func withDirectory<T>(_ body: (String) throws -> T) throws -> T {
        let dir = "/tmp/wu-profile-check-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileSystem.makeDirectories(dir)
        defer { FileSystem.removeTree(dir) }
        return try body(dir)
    }

    @Test func allowedProfileWithinBoundsPasses() throws {
        try Self.withDirectory { dir in
            let bundle = try Self.pack(profile: "strict", resources: #"{"cpus": 2, "memory": "512M", "pids": 64, "wall_time": "10m"}"#, in: dir)
            let check = try ProfileCheck(bundle: bundle, allowed: ["default", "strict"])
            #expect(check.passes)
            #expect(check.profile == "strict" && check.profileAllowed)
            #expect(check.resources.map(\.name) == ["cpus", "memory", "pids", "disk", "wall time"])
            #expect(check.resources.allSatisfy { $0.ok })
            #expect(
                check.lines == [
                    "bundle   \(bundle)",
                    "job      check 1",
                    "profile  strict: allowed (this runner allows: default, strict)",
                    "resources (requested / the profile's bound):",
                    "  cpus      2       / 64      ok",
                    "  memory    512M    / 64G     ok",
                    "  pids      64      / 64      ok",
                    "  disk      64M     / 100G    ok",
                    "  wall time 10m     / 24h     ok",
                    "result   passes: a runner allowing default, strict would run it",
                ]
            )
        }
    }

    @Test func disallowedProfileIsRefused() throws {
        try Self.withDirectory { dir in
            let bundle = try Self.pack(profile: "default", resources: "{}", in: dir)
            let check = try ProfileCheck(bundle: bundle, allowed: ["strict"])
            #expect(!check.passes)
            #expect(!check.profileAllowed)
            #expect(check.problems == ["profile 'default' is not one this runner allows (strict)"])
            #expect(check.resources.allSatisfy { $0.ok })
        }
    }

    @Test func unknownProfileIsRefused() throws {
        try Self.withDirectory { dir in
            let bundle = try Self.pack(profile: "gpu-box", resources: "{}", in: dir)
            let check = try ProfileCheck(bundle: bundle, allowed: ["default", "strict"])
            #expect(!check.passes)
            #expect(check.profileError?.contains("unknown sandbox profile 'gpu-box'") == true)
            #expect(check.problems.count == 2)
            #expect(check.resources.isEmpty)
        }
    }

    @Test func resourcesOverTheBoundsAreRefused() throws {
        try Self.withDirectory { dir in
            let bundle = try Self.pack(profile: "strict", resources: #"{"pids": 100, "memory": "128G", "gpus": 1}"#, in: dir)
            let check = try ProfileCheck(bundle: bundle, allowed: ["default", "strict"])
            #expect(!check.passes)
            #expect(check.profileAllowed)
            #expect(check.resources.filter { !$0.ok }.map(\.name) == ["memory", "pids", "gpus"])
            #expect(
                check.problems == [
                    "memory 128G is above the 'strict' profile's bound 64G",
                    "pids 100 is above the 'strict' profile's bound 64",
                    "gpus 1: no sandbox profile passes a GPU to a unit",
                ]
            )
            #expect(check.lines.contains("  pids      100     / 64      OVER"))
        }
    }

    @Test func anUnreadableBundleThrows() throws {
        try Self.withDirectory { dir in
            try FileSystem.writeFile(dir + "/bad.wu", Array("not a bundle".utf8))
            #expect(throws: (any Error).self) { try ProfileCheck(bundle: dir + "/bad.wu", allowed: ["default"]) }
        }
    }
}
