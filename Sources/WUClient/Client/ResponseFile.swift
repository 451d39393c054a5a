import AsyncHTTPClient
import NIOCore
import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// Writes a streamed response body to a file.
enum ResponseFile {
    static func write(_ body: HTTPClientResponse.Body, to path: String) async throws {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        defer { close(fd) }
        for try await chunk in body {
            try chunk.withUnsafeReadableBytes { try FileIO.writeAll(fd, $0, path: path) }
        }
    }
}
