import NIOCore
import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// A file as an async sequence of 256 KiB `ByteBuffer`s, for streaming uploads without holding it in memory.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let length: Int64

    static func open(_ path: String) throws -> (FileChunks, Int64) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw WUError(.io, "cannot read \(path)", cause: SystemCallError("stat", path: path, errno: errno)) }
        return (FileChunks(path: path, length: Int64(st.st_size)), Int64(st.st_size))
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let path: String
        var fd: Int32 = -1
        var offset: Int64 = 0
        let length: Int64

        mutating func next() async throws -> ByteBuffer? {
            if fd < 0 {
                fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw WUError(.io, "cannot open \(path)", cause: SystemCallError("open", path: path, errno: errno)) }
            }
            guard offset < length else {
                close(fd)
                return nil
            }
            var buffer = ByteBufferAllocator().buffer(capacity: 256 << 10)
            let want = Int(Swift.min(Int64(256 << 10), length - offset))
            let got = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                let n = pread(fd, raw.baseAddress, want, off_t(offset))
                guard n >= 0 else { throw WUError(.io, "cannot read \(path)", cause: SystemCallError("pread", path: path, errno: errno)) }
                return n
            }
            guard got > 0 else {
                close(fd)
                throw WUError(.io, "\(path) shrank while it was being uploaded")
            }
            offset += Int64(got)
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(path: path, length: length) }
}

/// Streaming SHA-256 in hex for the client's downloads.
struct StreamingDigest {
    private var state = WUCore.SHA256Stream()
    mutating func update(_ bytes: UnsafeRawBufferPointer) { state.update(bytes) }
    func finalize() -> String { state.finalize() }
}
