import FoundationEssentials
import GRDB
import HTTPTypes
import Hummingbird
import NIOPosix
import WUProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `GET /v1/jobs/{id}/results`: a streamed, uncompressed tar of the job's results.
///
/// Layout (DESIGN.md's, one level before extraction): `<unit-id>/usage.json` and
/// `<unit-id>/out.archive` (the canonical output archive exactly as the runner uploaded it; its
/// SHA-256 is `blob_digest` in the unit view), and `aggregate/…` the same way when the job has one.
/// `wu results` unpacks each `out.archive` into `<unit-id>/out/`.
enum ResultsArchive {
    struct Entry: Sendable {
        let name: String
        let bytes: [UInt8]?
        let blobPath: String?
        let size: Int64
    }

    static func response(scheduler: Scheduler, blobs: BlobStore, identity: Identity, jobID: String) async throws -> Response {
        let entries = try await scheduler.store.read { db -> [Entry] in
            let job = try Scheduler.visibleJob(db, identity, jobID)
            let units = try UnitRecord.filter(Column("job_id") == job.id! && Column("state") == "valid").order(Column("is_aggregate"), Column("id"))
                .fetchAll(db)
            var entries: [Entry] = []
            for unit in units {
                guard let copyID = unit.canonicalCopyId, let copy = try CopyRecord.find(db, copyID), let blob = unit.blobDigest else { continue }
                let usage = Array((copy.usage ?? "{}").utf8)
                entries.append(Entry(name: "\(unit.name)/usage.json", bytes: usage, blobPath: nil, size: Int64(usage.count)))
                var info = stat()
                let path = blobs.path(blob)
                guard stat(path, &info) == 0 else { continue }
                entries.append(Entry(name: "\(unit.name)/out.archive", bytes: nil, blobPath: path, size: Int64(info.st_size)))
            }
            return entries
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/x-tar"
        headers[.contentDisposition] = "attachment; filename=\"job-\(jobID)-results.tar\""
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody { writer in
                for entry in entries {
                    try await writer.write(ByteBuffer(bytes: header(name: entry.name, size: entry.size)))
                    if let bytes = entry.bytes {
                        try await writer.write(ByteBuffer(bytes: bytes))
                    } else if let path = entry.blobPath {
                        var offset: Int64 = 0
                        while offset < entry.size {
                            let at = offset
                            let chunk = try await NIOThreadPool.singleton.runIfActive { try readChunk(path, offset: at, count: 256 << 10) }
                            guard !chunk.isEmpty else { break }
                            try await writer.write(ByteBuffer(bytes: chunk))
                            offset += Int64(chunk.count)
                        }
                        if offset < entry.size { try await writer.write(ByteBuffer(repeating: 0, count: Int(entry.size - offset))) }
                    }
                    let padding = (512 - Int(entry.size % 512)) % 512
                    if padding > 0 { try await writer.write(ByteBuffer(repeating: 0, count: padding)) }
                }
                try await writer.write(ByteBuffer(repeating: 0, count: 1024))
                try await writer.finish(nil)
            }
        )
    }

    static func readChunk(_ path: String, offset: Int64, count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    /// A ustar header for a regular file: mode 0644, owner 0, time 0 (deterministic).
    static func header(name: String, size: Int64) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (i, b) in text.utf8.prefix(width).enumerated() { h[offset + i] = b }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            let text = String(value, radix: 8)
            put(String(repeating: "0", count: max(0, width - 1 - text.count)) + text, at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(0o644, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(0, at: 136, width: 12)
        put("        ", at: 148, width: 8)
        h[156] = UInt8(ascii: "0")
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        let sum = h.reduce(0) { $0 + Int64($1) }
        octal(sum, at: 148, width: 7)
        h[155] = UInt8(ascii: " ")
        return h
    }
}
