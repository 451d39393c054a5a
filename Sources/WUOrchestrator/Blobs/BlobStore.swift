import Crypto
import HTTPTypes
public import Hummingbird
import NIOPosix
import WUCore
import WUProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Content-addressed files under `DIR/blobs/<sha256>`: bundle payloads, manifests, signatures, outputs.
///
/// A blob is written to `DIR/blobs/tmp/`, fsynced, checked against its digest, then renamed into
/// place (and the directory fsynced), so a blob that exists is always whole. Blocking file calls
/// run on NIO's thread pool, never on the cooperative pool.
public struct BlobStore: Sendable {
    public let directory: String
    let threadPool: NIOThreadPool

    public init(dataDirectory: String) throws {
        directory = dataDirectory + "/blobs"
        self.threadPool = .singleton
        try OrchestratorStore.makeDirectory(directory + "/tmp")
    }

    public func path(_ digest: String) -> String { directory + "/" + digest }

    public func exists(_ digest: String) -> Bool {
        guard WireID.isSHA256(digest) else { return false }
        var info = stat()
        return stat(path(digest), &info) == 0
    }

    /// Stores a streamed upload that must hash to `digest` and be at most `limit` bytes.
    public func put(_ digest: String, body: some AsyncSequence<ByteBuffer, any Error>, limit: Int) async throws -> Int64 {
        guard WireID.isSHA256(digest) else { throw APIError.badRequest("a blob is named by 64 lower-case hex digits") }
        let writer = try await threadPool.runIfActive { try Writer(directory: directory) }
        do {
            var hasher = SHA256()
            var size = 0
            for try await chunk in body {
                size += chunk.readableBytes
                guard size <= limit else {
                    throw APIError(.contentTooLarge, "too-large", "the blob is larger than the limit of \(limit) bytes")
                }
                let bytes = Array(chunk.readableBytesView)
                hasher.update(data: bytes)
                try await threadPool.runIfActive { try writer.write(bytes) }
            }
            let actual = Hex.encode(hasher.finalize())
            guard actual == digest else {
                throw APIError(.badRequest, "digest-mismatch", "the body hashes to \(actual), not \(digest)")
            }
            try await threadPool.runIfActive { try writer.commit(to: path(digest), directory: directory) }
            return Int64(size)
        } catch {
            writer.discard()
            if let error = error as? APIError { throw error }
            if error is WUError { throw error }
            throw APIError(.badRequest, "upload-failed", "the upload did not complete: \(error)")
        }
    }

    /// Stores bytes synchronously (from a thread-pool thread): used while a bundle streams in.
    func putSync(_ bytes: [UInt8]) throws -> String {
        let digest = Hex.sha256(bytes)
        if exists(digest) { return digest }
        let writer = try Writer(directory: directory)
        do {
            try writer.write(bytes)
            try writer.commit(to: path(digest), directory: directory)
        } catch {
            writer.discard()
            throw error
        }
        return digest
    }

    /// The blob as a streamed response body.
    func responseBody(_ digest: String, context: some RequestContext) async throws -> ResponseBody {
        try await FileIO(threadPool: threadPool).loadFile(path: path(digest), context: context)
    }

    /// A temporary file on its way to becoming a blob.
    final class Writer: Sendable {
        let fd: Int32
        let tmpPath: String

        init(directory: String) throws {
            tmpPath = directory + "/tmp/" + Hex.random(bytes: 12)
            fd = open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw WUError(.io, "cannot create a blob", cause: SystemCallError("open", path: tmpPath, errno: errno)) }
        }

        init(fd: Int32, tmpPath: String) {
            self.fd = fd
            self.tmpPath = tmpPath
        }

        func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { raw in try write(raw) }
        }

        func write(_ raw: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WUError(.io, "cannot write a blob", cause: SystemCallError("write", path: tmpPath, errno: errno))
                }
                offset += n
            }
        }

        /// fsync, rename into place, fsync the directory.
        func commit(to destination: String, directory: String) throws {
            defer { close(fd) }
            guard fsync(fd) == 0 else { throw WUError(.io, "cannot sync a blob", cause: SystemCallError("fsync", path: tmpPath, errno: errno)) }
            guard rename(tmpPath, destination) == 0 else {
                let code = errno
                unlink(tmpPath)
                throw WUError(.io, "cannot store a blob", cause: SystemCallError("rename", path: destination, errno: code))
            }
            let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dir >= 0 {
                fsync(dir)
                close(dir)
            }
        }

        func discard() {
            close(fd)
            unlink(tmpPath)
        }
    }
}
