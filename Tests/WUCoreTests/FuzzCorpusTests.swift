import Testing
import WUCore
import WUFuzz

/// Replays the saved fuzz corpus (`Fuzz/corpus/<target>/`) through the harnesses `make fuzz` drives.
///
/// Seconds, not minutes: each saved input runs once. A harness failure names the file; a crash
/// fails the run. The reproducers of crashes the fuzzers found are replayed by name as well.
@Suite struct FuzzCorpusTests {
    static let corpus: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/WUCoreTests/FuzzCorpusTests.swift
        return parts.joined(separator: "/") + "/Fuzz/corpus"
    }()

    static func input(_ target: FuzzTarget, _ name: String) throws -> [UInt8] {
        try FileIO.readFile(corpus + "/" + target.rawValue + "/" + name)
    }

    @Test(arguments: FuzzTarget.allCases)
    func savedCorpusPassesTheHarness(target: FuzzTarget) throws {
        let names = try FileIO.listDirectory(Self.corpus + "/" + target.rawValue).sorted()
        #expect(!names.isEmpty, "Fuzz/corpus/\(target.rawValue) holds no inputs")
        var accepted = 0
        for name in names {
            do {
                if try target.run(Self.input(target, name)) == .accepted { accepted += 1 }
            } catch {
                Issue.record("Fuzz/corpus/\(target.rawValue)/\(name): \(error)")
            }
        }
        // The seeds include valid inputs, so the replay reaches past each parser's first refusal.
        #expect(accepted > 0, "no input of Fuzz/corpus/\(target.rawValue) is accepted")
    }

    /// Inputs that trapped on the old code (a crash takes the whole process down: the runner, the
    /// orchestrator checking an upload, `wu pack`); each is now refused with an error.
    @Test(arguments: [
        // ByteSize.format computed `bytes * 10`, which overflows for a signed size near Int64.max.
        (FuzzTarget.bundle, "repro-size-near-int64-max"),
        // BundleReader summed the signed manifest's sizes before checking each.
        (FuzzTarget.bundle, "repro-sizes-sum-overflows"),
        // The profile parser converted a UInt64 above Int.max with Int(_:).
        (FuzzTarget.profile, "repro-max-pids-above-int-max.json"),
        (FuzzTarget.profile, "repro-errno-above-int-max.json"),
        // DurationText converted a bare number of seconds beyond Int64 milliseconds with Int64(_:).
        (FuzzTarget.profile, "repro-wall-time-above-int64.json"),
        // verify accepted a file whose directory the tar never listed; extract could not place it.
        (FuzzTarget.verify, "repro-verify-extract-differ"),
    ])
    func reproducerIsRefused(target: FuzzTarget, name: String) throws {
        #expect(try target.run(Self.input(target, name)) == .rejected)
    }
}
