import HTTPTypes
import Testing
import WUProtocol

@testable import WUCore
@testable import WUOrchestrator

#if canImport(Glibc)
import Glibc
#endif

extension OrchestratorTests {
    /// `complete` is acknowledged only for a blob that is the output archive of the digest it reports:
    /// zstd, inflating to a tar of regular files and directories within the unit's disk, whose SHA-256
    /// is `output_digest`. A refused one records nothing and grants the requester nothing.
    @Suite struct OutputCheckTests {
        /// Writes `text` to a new file and returns its path.
        static func file(_ h: Harness, _ text: [UInt8]) throws -> String {
            let path = h.directory + "/f-" + Hex.random(bytes: 6)
            let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            defer { close(fd) }
            try text.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
            return path
        }

        /// Stores a file's bytes as a blob and returns its digest.
        static func store(_ h: Harness, _ path: String) throws -> String {
            try h.upload(try FileIO.readFile(path))
        }

        /// Expects `complete` to be refused with 422 `output-invalid` and its reason to contain `why`, and
        /// nothing about the copy to have changed or been granted.
        static func expectRefused(
            _ h: Harness, _ a: Assignment, _ r: String, output: String, blob: String, _ why: String, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            let error = await #expect(throws: APIError.self, sourceLocation: sourceLocation) {
                try await h.complete(a, by: r, outputDigest: output, blobDigest: blob)
            }
            #expect(error?.status == .unprocessableContent, sourceLocation: sourceLocation)
            #expect(error?.code == "output-invalid", sourceLocation: sourceLocation)
            #expect(error?.message.contains(why) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
            #expect(try await h.copies(a.jobID).first?.state == "leased", sourceLocation: sourceLocation)
            #expect(try await !h.scheduler.mayRead(h.requester, blob: blob), "the requester was granted a refused blob", sourceLocation: sourceLocation)
        }

        @Test func onlyTheOutputArchiveOfTheReportedDigestIsAccepted() async throws {
            let h = try Harness()
            let job = try await h.makeJob(units: 1, resources: .init(millicpus: 1000, diskBytes: 1 << 20))
            let r = try await h.register("r")
            let a = try #require(try await h.claim(r).first)
            // Any stored blob named with its own digest (here: bytes that are no archive at all).
            let plain = try Self.file(h, Array("hello".utf8))
            try await Self.expectRefused(h, a, r, output: Hex.sha256("hello"), blob: try Self.store(h, plain), "not zstd")
            // zstd, but not of a tar.
            _ = try OutputArchive.compress(plain, to: plain + ".zst")
            try await Self.expectRefused(h, a, r, output: Hex.sha256("hello"), blob: try Self.store(h, plain + ".zst"), "not an output tar")
            // A real output archive, reported with another output's digest.
            let honest = try h.output("honest")
            try await Self.expectRefused(h, a, r, output: try h.output("other").outputDigest, blob: honest.blobDigest!, "inflates to a tar of digest")
            // The canonical tar itself, uncompressed.
            let tar = plain + ".tar"
            let tarDigest = try OutputArchive.decompress(h.orchestrator.blobs.path(honest.blobDigest!), to: tar, limit: 1 << 20)
            try await Self.expectRefused(h, a, r, output: tarDigest, blob: try Self.store(h, tar), "not zstd")
            // An output larger than the unit's disk (1 MiB), small once compressed.
            let big = h.directory + "/big"
            try FileIO.makeDirectories(big)
            let zeros = try Self.file(h, [UInt8](repeating: 0, count: 2 << 20))
            rename(zeros, big + "/zeros")
            let huge = try OutputArchive.pack(directory: big, compressedPath: big + ".zst")
            try await Self.expectRefused(h, a, r, output: huge.outputDigest, blob: try Self.store(h, big + ".zst"), "larger than 1")

            let ack = try await h.complete(a, by: r, outputDigest: honest.outputDigest, blobDigest: honest.blobDigest!)
            #expect(ack.copyState == "valid")
            #expect(try await h.job(job).state == "completed")
            #expect(try await h.scheduler.mayRead(h.requester, blob: honest.blobDigest!))
        }

        @Test func aTarWithALinkOrAnUnsafePathIsRefused() async throws {
            let h = try Harness()
            try await h.makeJob(units: 1)
            let r = try await h.register("r")
            let a = try #require(try await h.claim(r).first)
            for (name, make) in [("link", "ln -s /etc/passwd out/link"), ("dotdot", "echo x > escaped")] {
                let work = h.directory + "/" + name
                try FileIO.makeDirectories(work + "/out")
                // GNU tar keeps `../escaped` as written with -P; zstd compresses the tar as it is.
                let script = "cd \(work) && \(make) && tar -P --format=pax -cf t.tar out/ \(name == "dotdot" ? "out/../escaped" : "") && zstd -q t.tar -o t.zst"
                #expect(Self.run(["/bin/sh", "-c", script]) == 0, "\(script)")
                let tarDigest = Hex.sha256(try FileIO.readFile(work + "/t.tar"))
                try await Self.expectRefused(h, a, r, output: tarDigest, blob: try Self.store(h, work + "/t.zst"), name == "link" ? "not a regular file" : "unsafe path")
            }
        }

        static func run(_ arguments: [String]) -> Int32 {
            var pid: pid_t = 0
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            guard posix_spawn(&pid, arguments[0], nil, nil, &argv, environ) == 0 else { return -1 }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            return status
        }
    }
}
