import HTTPTypes
import NIOPosix
import WUCore
import WUProtocol

#if canImport(Glibc)
import Glibc
#endif

extension BlobStore {
    /// Compressed size up to which `complete` checks an output inside its write transaction: an
    /// honest output this small inflates in microseconds, so the writer is not held noticeably.
    static let smallOutputBytes: Int64 = 64 << 10
    /// The bounds of that in-transaction check; an output past them is checked in full outside it.
    static let smallOutputLimits = OutputArchive.Limits(maxFileBytes: 256 << 10, maxEntries: 256)

    /// Checks that the blob a `complete` names is an output archive of `outputDigest` within the
    /// unit's disk (`OutputArchive.verify`), on the thread pool: a runner's word is not enough.
    ///
    /// - Throws: 409 `blob-missing` when it is not stored; 422 `output-invalid` naming what is wrong.
    func checkOutput(_ blobDigest: String, outputDigest: String, diskBytes: Int64) async throws {
        guard exists(blobDigest) else { throw Self.blobMissing(blobDigest) }
        let path = path(blobDigest)
        do {
            try await threadPool.runIfActive {
                try OutputArchive.verify(compressed: path, outputDigest: outputDigest, limits: .init(maxFileBytes: diskBytes))
            }
        } catch let error as WUError {
            throw Self.outputInvalid(blobDigest, error)
        }
    }

    /// `checkOutput` for a small output, synchronously (inside the write transaction). False, having
    /// decided nothing, when the output is bigger than `smallOutputLimits`: then `checkOutput` it.
    ///
    /// - Throws: as `checkOutput`.
    func checkSmallOutput(_ blobDigest: String, outputDigest: String, diskBytes: Int64) throws -> Bool {
        var info = stat()
        guard WireID.isSHA256(blobDigest), stat(path(blobDigest), &info) == 0 else { throw Self.blobMissing(blobDigest) }
        guard Int64(info.st_size) <= Self.smallOutputBytes else { return false }
        var limits = Self.smallOutputLimits
        limits.maxFileBytes = min(limits.maxFileBytes, diskBytes)
        do {
            try OutputArchive.verify(compressed: path(blobDigest), outputDigest: outputDigest, limits: limits)
            return true
        } catch let error as WUError where error.code == .limitExceeded {
            return false  // past the small bounds (at least its entries), maybe not past the unit's
        } catch let error as WUError {
            throw Self.outputInvalid(blobDigest, error)
        }
    }

    static func blobMissing(_ blobDigest: String) -> APIError {
        APIError(.conflict, "blob-missing", "upload the output archive first (this runner's token must upload it): PUT /v1/blobs/\(blobDigest)")
    }

    static func outputInvalid(_ blobDigest: String, _ error: WUError) -> APIError {
        APIError(.unprocessableContent, "output-invalid", "blob \(blobDigest) is not the output archive this copy claims: \(error.message)")
    }
}
