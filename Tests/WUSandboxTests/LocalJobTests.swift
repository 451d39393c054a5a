import Glibc
import Testing
import WUCore
import WUProtocol

@testable import WUSandbox

/// `wu run`'s library: a real bundle packed, verified, run in the sandbox, outputs collected.
@Suite(.serialized) struct LocalJobTests {
    static let repository: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    func pack(_ job: String, in dir: String) throws -> (bundle: String, pub: String) {
        let key = SigningKey.generate(name: "tester")
        let bundle = dir + "/job.wu"
        _ = try BundlePacker.pack(jobDirectory: job, key: key, output: bundle)
        let pub = dir + "/tester.pub"
        try FileSystem.writeFile(pub, Array(key.publicKey.fileContents.utf8))
        return (bundle, pub)
    }

    @Test(.enabled(if: isRoot, "needs root for cgroups")) func wordcountRunsWithItsAggregate() async throws {
        let dir = "/tmp/wu-localjob-\(getpid())"
        FileSystem.removeTree(dir)
        try FileSystem.makeDirectories(dir)
        defer { FileSystem.removeTree(dir) }
        let (bundle, pub) = try pack(Self.repository + "/bundles/wordcount", in: dir)
        let reports = try await LocalJob.run(.init(bundle: bundle, trustedKeys: [pub], outputDirectory: dir + "/out"))
        #expect(reports.map(\.id).last == "aggregate")
        for r in reports {
            #expect(r.succeeded, "\(r.id): \(r.error ?? r.usage?.stderrTail ?? "")")
            #expect(r.outputDigest?.count == 64)
            #expect(FileSystem.exists(dir + "/out/\(r.id)/usage.json"))
            #expect(FileSystem.isDirectory(dir + "/out/\(r.id)/out"))
        }
        #expect(FileSystem.usage(of: dir + "/out/aggregate/out").fileBytes > 0)
        // Nothing left behind: no work directory, no cgroup.
        #expect(FileSystem.list("/var/tmp").filter { $0.hasPrefix("wu-run-\(getpid())-") }.isEmpty)
        #expect(!FileSystem.exists("/sys/fs/cgroup/memory/wu/run-\(getpid())"))
    }

    @Test(.enabled(if: isRoot)) func untrustedBundleRunsNothing() async throws {
        let dir = "/tmp/wu-localjob-untrusted-\(getpid())"
        FileSystem.removeTree(dir)
        try FileSystem.makeDirectories(dir)
        defer { FileSystem.removeTree(dir) }
        let (bundle, _) = try pack(Self.repository + "/bundles/hello", in: dir)
        let other = SigningKey.generate(name: "someone-else")
        try FileSystem.writeFile(dir + "/other.pub", Array(other.publicKey.fileContents.utf8))
        await #expect(throws: WUError.self) {
            _ = try await LocalJob.run(.init(bundle: bundle, trustedKeys: [dir + "/other.pub"], outputDirectory: dir + "/out"))
        }
        #expect(!FileSystem.exists(dir + "/out"))
    }

    @Test(.enabled(if: isRoot)) func linksInOutAreNotCollected() async throws {
        // Item 9 end to end: a unit leaves links to host paths in /out; the collected output has none.
        let dir = "/tmp/wu-localjob-links-\(getpid())"
        FileSystem.removeTree(dir)
        try FileSystem.makeDirectories(dir + "/job/code")
        defer { FileSystem.removeTree(dir) }
        try FileSystem.writeFile(
            dir + "/job/wu.json",
            Array(
                """
                {"name": "links", "version": "1", "command": ["/bin/sh", "run.sh"],
                 "resources": {"cpus": 0.5, "memory": "64M", "disk": "1M", "wall_time": "10s", "pids": 16},
                 "units": [{"id": "u1"}]}
                """.utf8
            )
        )
        try FileSystem.writeFile(dir + "/job/code/run.sh", Array("ln -s /etc/shadow /out/shadow; ln -s / /out/root; echo ok > /out/real\n".utf8))
        let (bundle, pub) = try pack(dir + "/job", in: dir)
        let reports = try await LocalJob.run(.init(bundle: bundle, trustedKeys: [pub], outputDirectory: dir + "/out"))
        #expect(reports.first?.succeeded == true, "\(reports.first?.error ?? reports.first?.usage?.stderrTail ?? "")")
        #expect(FileSystem.list(dir + "/out/u1/out") == ["real"])
    }
}
