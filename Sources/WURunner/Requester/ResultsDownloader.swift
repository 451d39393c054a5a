import WUCore
import WUProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `wu results JOB -o DIR`: downloads a finished job's results into DESIGN.md's output layout, checking
/// every output against the digest its quorum agreed on.
public enum ResultsDownloader {
    /// - Returns: the unit ids whose outputs were written (the aggregate as `aggregate`).
    public static func download(client: OrchestratorClient, jobID: String, to directory: String) async throws -> [String] {
        let units = try await client.units(ofJob: jobID)
        var digests: [String: String] = [:]
        for unit in units.units {
            if let digest = unit.outputDigest { digests[unit.isAggregate ? "aggregate" : unit.unitID] = digest }
        }
        try FileIO.makeDirectories(directory)
        let tar = directory + "/.results-\(getpid()).tar"
        defer { unlink(tar) }
        try await client.downloadResults(job: jobID, to: tar)
        return try ResultsLayout.unpack(resultsTar: tar, outputDigests: digests, to: directory)
    }
}
