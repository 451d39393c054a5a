import HTTPTypes
import NIOPosix
import WUCore

extension BlobStore {
    /// Checks that the blob a `complete` names is an output archive of `outputDigest` within the
    /// unit's disk (`OutputArchive.verify`), on the thread pool: a runner's word is not enough.
    ///
    /// - Throws: 409 `blob-missing` when it was never uploaded; 422 `output-invalid` naming what is wrong.
    func checkOutput(_ blobDigest: String, outputDigest: String, diskBytes: Int64) async throws {
        guard exists(blobDigest) else {
            throw APIError(.conflict, "blob-missing", "upload the output archive first: PUT /v1/blobs/\(blobDigest)")
        }
        let path = path(blobDigest)
        do {
            try await threadPool.runIfActive {
                try OutputArchive.verify(compressed: path, outputDigest: outputDigest, limits: .init(maxFileBytes: diskBytes))
            }
        } catch let error as WUError {
            throw APIError(.unprocessableContent, "output-invalid", "blob \(blobDigest) is not the output archive this copy claims: \(error.message)")
        }
    }
}
