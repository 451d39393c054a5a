import Testing
@testable import WUCore
#if canImport(Glibc)
import Glibc
#endif

@Suite struct DeterminismTests {
    /// Two `wu pack` processes, different umasks, touched mtimes, and a copy of the job made in another
    /// order at another path: the bundles must be byte-identical.
    @Test func packIsByteIdenticalAcrossProcessesUmasksTimesAndPaths() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let key = try KeyFiles.generate(prefix: tmp.path + "/k")
        _ = key
        let original = repositoryRoot + "/bundles/wordcount"

        // The copy: files created in reverse order, under a different umask, with other mtimes.
        let copy = tmp.path + "/elsewhere/deeper/wordcount"
        let copied = try shell(
            """
            umask 077 && mkdir -p \(copy) && cd \(original) && \
            for f in $(find . -type f | sort -r); do mkdir -p "\(copy)/$(dirname "$f")" && cat "$f" > "\(copy)/$f"; done && \
            find \(copy) -exec touch -d '2001-02-03 04:05:06' {} +
            """
        )
        #expect(copied.status == 0, "\(copied.output)")

        let first = try shell("umask 022 && \(wuBinary) pack \(original) -o \(tmp.path)/a.wu --key \(tmp.path)/k.key")
        #expect(first.status == 0, "\(first.output)")
        let touched = try shell("find \(original) -exec touch {} + && umask 077 && \(wuBinary) pack \(copy) -o \(tmp.path)/b.wu --key \(tmp.path)/k.key")
        #expect(touched.status == 0, "\(touched.output)")

        let a = try tmp.read("a.wu")
        let b = try tmp.read("b.wu")
        #expect(a.count > 1000)
        #expect(a == b, "bundles differ: \(a.count) vs \(b.count) bytes")
    }

    /// A changed input must change the bundle: the determinism check above could otherwise pass vacuously.
    @Test func aChangedFileChangesTheBundle() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let key = SigningKey.generate(name: "k")
        let job = try makeJob(in: tmp)
        _ = try BundlePacker.pack(jobDirectory: job, key: key, output: tmp.path + "/a.wu")
        try tmp.file("job/inputs/a.txt", "alphA\n")
        _ = try BundlePacker.pack(jobDirectory: job, key: key, output: tmp.path + "/b.wu")
        #expect(try tmp.read("a.wu") != tmp.read("b.wu"))
    }
}
