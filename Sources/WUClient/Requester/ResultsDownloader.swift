import WUCore
public import WUProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `wu results JOB -o DIR`: downloads a finished job's results into DESIGN.md's output layout, checking
/// every output against the digest its quorum agreed on.
public enum ResultsDownloader {
    /// A unit the job has that came back without an output, and why.
    public struct Missing: Sendable, Equatable, Encodable {
        public let unit: String
        public let state: String
        public let why: String?
    }

    /// - Returns: the unit ids whose outputs were written (the aggregate as `aggregate`).
    public static func download(client: OrchestratorClient, jobID: String, to directory: String) async throws -> [String] {
        try await downloadReporting(client: client, jobID: jobID, to: directory).written
    }

    /// Downloads like ``download(client:jobID:to:)`` and also names every unit without an output:
    /// failed, cancelled, or not finished yet.
    public static func downloadReporting(
        client: OrchestratorClient, jobID: String, to directory: String
    ) async throws -> (written: [String], missing: [Missing]) {
        var digests: [String: String] = [:]
        var missing: [Missing] = []
        try await client.forEachUnitPage(ofJob: jobID) { page in
            for unit in page {
                let name = unit.isAggregate ? "aggregate" : unit.unitID
                if let digest = unit.outputDigest {
                    digests[name] = digest
                } else {
                    missing.append(Missing(unit: name, state: unit.state, why: unit.failure?.message ?? unit.waitingReason))
                }
            }
        }
        try FileIO.makeDirectories(directory)
        let tar = directory + "/.results-\(getpid()).tar"
        defer { unlink(tar) }
        try await client.downloadResults(job: jobID, to: tar)
        let written = try ResultsLayout.unpack(resultsTar: tar, outputDigests: digests, to: directory)
        let got = Set(written)
        let lost = digests.keys.filter { !got.contains($0) }.sorted().map { Missing(unit: $0, state: "valid", why: "its output was not in the download") }
        return (written, missing + lost)
    }
}
