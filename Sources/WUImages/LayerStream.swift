import CArchive
import Crypto
import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// One layer blob read once from disk: its bytes hashed as they leave the file (the layer's
/// digest), decompressed by libarchive with the one filter its media type names, and the tar
/// stream hashed again as it is handed on (the diff_id), counted and bounded on the way.
///
/// Two libarchive readers are chained: `outer` (raw format + the filter) turns the blob into the
/// tar stream; a tar reader (``TarEntries``) pulls that stream through ``read(into:)``. So the
/// digest, the diff_id and every entry come out of a single pass, and a layer whose bytes differ
/// from the signed digest is known at its end, before the caller keeps anything of it.
final class LayerStream {
    struct Limits {
        /// Uncompressed tar bytes this stream may still produce.
        var maxTarBytes: Int64
        var maxCompressionRatio: Int64
        var ratioGraceBytes: Int64
    }

    let name: String
    private let fd: Int32
    private let outer: OpaquePointer
    private let limits: Limits
    private let fileBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    private var compressedHasher = SHA256()
    private var tarHasher = SHA256()
    private(set) var compressedBytes: Int64 = 0
    private(set) var tarBytes: Int64 = 0
    /// What a callback failed with: libarchive only sees -1, the caller gets this.
    var failure: WUError?

    init(path: String, name: String, compression: Manifest.Image.Compression, limits: Limits) throws {
        self.name = name
        self.limits = limits
        fd = try FileIO.open(path, O_RDONLY | O_NOFOLLOW)
        guard let archive = archive_read_new() else {
            close(fd)
            fileBuffer.deallocate()
            throw WUError(.io, "libarchive could not allocate a reader")
        }
        outer = archive
        switch compression {
        case .none: break
        case .gzip: archive_read_support_filter_gzip(outer)
        case .zstd: archive_read_support_filter_zstd(outer)
        }
        archive_read_support_format_raw(outer)
        let status = archive_read_open(outer, Unmanaged.passUnretained(self).toOpaque(), nil, layerFileRead, nil)
        var entry: OpaquePointer?
        guard status == ARCHIVE_OK, archive_read_next_header(outer, &entry) == ARCHIVE_OK else { throw failed("opening it") }
        let expected: Int32 = switch compression {
        case .none: ARCHIVE_FILTER_NONE
        case .gzip: ARCHIVE_FILTER_GZIP
        case .zstd: ARCHIVE_FILTER_ZSTD
        }
        guard archive_filter_code(outer, 0) == expected else {
            throw WUError(.corruptArchive, "\(name) is not compressed as its media type says (\(compression.rawValue))")
        }
    }

    deinit {
        archive_read_free(outer)
        close(fd)
        fileBuffer.deallocate()
    }

    /// The error a failed libarchive call stands for: a callback's own, or libarchive's reason.
    func failed(_ what: String) -> WUError {
        if let failure { return failure }
        let reason = archive_error_string(outer).map { String(cString: $0) } ?? "unexpected end of data"
        return WUError(.corruptArchive, "\(name) is damaged or truncated (\(what): \(reason))")
    }

    /// Called by libarchive for more compressed bytes: reads the file, hashing what it hands on.
    fileprivate func readFile(_ out: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
        do {
            let n = try FileIO.read(fd, into: fileBuffer, path: name)
            compressedHasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: fileBuffer[0..<n]))
            compressedBytes += Int64(n)
            out.pointee = UnsafeRawPointer(fileBuffer.baseAddress)
            return n
        } catch {
            failure = error as? WUError ?? WUError(.io, "cannot read \(name): \(error)")
            return -1
        }
    }

    /// Up to `buffer.count` bytes of the uncompressed tar stream; 0 at its end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = archive_read_data(outer, buffer.baseAddress, buffer.count)
        guard n >= 0 else { throw failed("decompressing") }
        tarHasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        tarBytes += Int64(n)
        guard tarBytes <= limits.maxTarBytes else {
            throw WUError(.limitExceeded, "\(name) unpacks to more than \(ByteSize.format(limits.maxTarBytes)), the limit for this image")
        }
        if tarBytes > limits.ratioGraceBytes, tarBytes / max(1, compressedBytes) > limits.maxCompressionRatio {
            throw WUError(
                .limitExceeded,
                "\(name) inflates \(ByteSize.format(compressedBytes)) into more than \(ByteSize.format(tarBytes)) (ratio over \(limits.maxCompressionRatio):1): a decompression bomb"
            )
        }
        return n
    }

    /// Reads what is left (the tar's padding, the file's tail) and returns both digests and the size.
    func finish() throws -> (digest: String, size: Int64, diffID: String) {
        // Not into fileBuffer: it holds the compressed bytes libarchive is still inflating.
        let rest = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { rest.deallocate() }
        while try read(into: rest) > 0 {}
        var out: UnsafeRawPointer?
        while true {
            let n = readFile(&out)
            if n < 0 { throw failed("reading its end") }
            if n == 0 { break }
        }
        let prefix = Manifest.Image.digestPrefix
        return (prefix + Digest.hex(compressedHasher.finalize()), compressedBytes, prefix + Digest.hex(tarHasher.finalize()))
    }

    /// Streams a layer to its end and checks it against its descriptor: digest, size and diff_id.
    static func check(_ layer: Manifest.Image.Layer, _ stream: LayerStream) throws {
        let (digest, size, diffID) = try stream.finish()
        guard size == layer.size else {
            throw WUError(.tamperedFile, "\(stream.name) is \(size) bytes but its descriptor says \(layer.size)")
        }
        guard digest == layer.digest else {
            throw WUError(.tamperedFile, "\(stream.name) has digest \(digest) but its descriptor says \(layer.digest)")
        }
        guard diffID == layer.diffID else {
            throw WUError(.tamperedFile, "\(stream.name) uncompressed has digest \(diffID) but the image's diff_id is \(layer.diffID)")
        }
    }
}

private let layerFileRead: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<UnsafeRawPointer?>?) -> la_ssize_t = {
    _, client, out in
    guard let client, let out else { return -1 }
    return la_ssize_t(Unmanaged<LayerStream>.fromOpaque(client).takeUnretainedValue().readFile(out))
}

/// The tar entries of a ``LayerStream``: a second libarchive reader fed by the first.
final class TarEntries {
    let stream: LayerStream
    private let archive: OpaquePointer
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

    init(_ stream: LayerStream) throws {
        self.stream = stream
        guard let archive = archive_read_new() else {
            buffer.deallocate()
            throw WUError(.io, "libarchive could not allocate a reader")
        }
        self.archive = archive
        archive_read_support_format_tar(archive)
        guard archive_read_open(archive, Unmanaged.passUnretained(self).toOpaque(), nil, tarStreamRead, nil) == ARCHIVE_OK else {
            throw failed("opening its tar")
        }
    }

    deinit {
        archive_read_free(archive)
        buffer.deallocate()
    }

    func failed(_ what: String) -> WUError {
        if let failure = stream.failure { return failure }
        let reason = archive_error_string(archive).map { String(cString: $0) } ?? "unexpected end of data"
        return WUError(.corruptArchive, "\(stream.name) is not a readable tar (\(what): \(reason))")
    }

    fileprivate func pull(_ out: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
        do {
            let n = try stream.read(into: buffer)
            out.pointee = UnsafeRawPointer(buffer.baseAddress)
            return n
        } catch {
            stream.failure = error as? WUError ?? WUError(.corruptArchive, "\(stream.name): \(error)")
            return -1
        }
    }

    /// The next entry, or nil at the tar's end.
    func next() throws -> OpaquePointer? { try ArchiveEntries.next(archive, failed: failed) }

    /// The current entry's data in libarchive's blocks; a gap (a sparse entry) is refused.
    func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try ArchiveEntries.readData(
            archive, failed: failed, sparse: { WUError(.unsafeEntry, "\(stream.name) holds a sparse entry; wu unpacks plain files only") }, body
        )
    }
}

private let tarStreamRead: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<UnsafeRawPointer?>?) -> la_ssize_t = {
    _, client, out in
    guard let client, let out else { return -1 }
    return la_ssize_t(Unmanaged<TarEntries>.fromOpaque(client).takeUnretainedValue().pull(out))
}
