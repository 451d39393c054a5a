import CArchive
import Crypto
#if canImport(Glibc)
import Glibc
#endif

/// A bundle whose signature and every payload file checked out.
public struct VerifiedBundle: Sendable {
    public let manifest: Manifest
    /// `WU-MANIFEST.json` exactly as signed.
    public let manifestBytes: [UInt8]
    /// `WU-SIGNATURE` exactly as shipped.
    public let signatureBytes: [UInt8]
    public let signer: PublicSigningKey
}

/// Reads `.wu` bundles in one streaming pass: manifest, signature, then every entry against the manifest.
///
/// Nothing reaches a sink before the signature is checked, and a file is `end`ed only once its size and
/// digest match. Links, devices, FIFOs, setuid bits, unsafe paths, unlisted, duplicate or reordered entries,
/// and bombs are rejected with an error naming the entry.
public enum BundleReader {
    /// Where the archive comes from.
    public enum Source: Sendable {
        case file(String)
        case bytes([UInt8])
    }

    /// Verifies a bundle without keeping its payload.
    public static func verify(_ source: Source, trusting trust: TrustStore, limits: BundleLimits = .default) throws -> VerifiedBundle {
        var sink = DiscardingSink()
        return try verify(source, trusting: trust, limits: limits, into: &sink)
    }

    /// Verifies a bundle and extracts it into a new directory; on any failure the directory is removed.
    public static func extract(
        _ source: Source, trusting trust: TrustStore, to destination: String, limits: BundleLimits = .default
    ) throws -> VerifiedBundle {
        var sink = try DirectorySink(destination: destination)
        return try verify(source, trusting: trust, limits: limits, into: &sink)
    }

    /// Verifies a bundle, handing each payload file to `sink`.
    public static func verify(
        _ source: Source, trusting trust: TrustStore, limits: BundleLimits = .default, into sink: inout some BundleSink
    ) throws -> VerifiedBundle {
        do {
            return try read(source, trust: trust, limits: limits, sink: &sink)
        } catch {
            sink.abort()
            throw error
        }
    }

    /// Reads the manifest and signature without checking the signature or the payload: for `wu inspect`.
    public static func inspect(_ source: Source, limits: BundleLimits = .default) throws -> (Manifest, BundleSignature, [UInt8]) {
        let reader = try ArchiveReader(source)
        let manifestBytes = try reader.readMetadataEntry(named: Manifest.entryName, position: "first", limit: limits.maxManifestBytes)
        let signatureBytes = try reader.readMetadataEntry(named: BundleSignature.entryName, position: "second", limit: limits.maxManifestBytes)
        return (try Manifest.decode(manifestBytes), try BundleSignature.decode(signatureBytes), manifestBytes)
    }

    /// The bytes of the profile a bundle carries (``Manifest/profileFile``), checked against the
    /// manifest's digest, or nil when it carries none. Like ``inspect(_:limits:)`` the signature is not
    /// checked: for `wu profile check`.
    public static func carriedProfile(_ source: Source, limits: BundleLimits = .default) throws -> (Manifest, [UInt8]?) {
        let reader = try ArchiveReader(source)
        let manifestBytes = try reader.readMetadataEntry(named: Manifest.entryName, position: "first", limit: limits.maxManifestBytes)
        _ = try reader.readMetadataEntry(named: BundleSignature.entryName, position: "second", limit: limits.maxManifestBytes)
        let manifest = try Manifest.decode(manifestBytes)
        guard let entry = manifest.profileFileEntry else { return (manifest, nil) }
        // WU-PROFILE.json sorts before code/ and inputs/, so it is the first payload entry.
        guard manifest.files.first?.path == entry.path else {
            throw WUError(.entryOrder, "\(entry.path) must be the bundle's first payload file")
        }
        let bytes = try reader.readMetadataEntry(named: entry.path, position: "third", limit: Manifest.maxProfileBytes)
        guard Int64(bytes.count) == entry.size, Digest.sha256(bytes) == entry.sha256 else {
            throw WUError(.tamperedFile, "\(entry.path) does not match the digest in the signed manifest")
        }
        return (manifest, bytes)
    }

    static func read(_ source: Source, trust: TrustStore, limits: BundleLimits, sink: inout some BundleSink) throws -> VerifiedBundle {
        let reader = try ArchiveReader(source)
        let manifestBytes = try reader.readMetadataEntry(named: Manifest.entryName, position: "first", limit: limits.maxManifestBytes)
        let signatureBytes = try reader.readMetadataEntry(named: BundleSignature.entryName, position: "second", limit: limits.maxManifestBytes)
        let (manifest, signer) = try BundleSignature.verify(manifestBytes: manifestBytes, signatureBytes: signatureBytes, trusting: trust)

        // The payload, then the image's blobs: every entry the archive must hold, in order.
        let expected = manifest.files + manifest.imageEntries
        guard expected.count <= limits.maxEntries else {
            throw WUError(.limitExceeded, "the manifest lists \(expected.count) files, more than the limit of \(limits.maxEntries) entries")
        }
        // Each size first: summing a signed manifest's sizes unchecked could overflow (and trap).
        if let big = expected.first(where: { $0.size > limits.maxFileBytes }) {
            throw WUError(.limitExceeded, "\(big.path) is \(ByteSize.format(big.size)), more than the per-file limit of \(ByteSize.format(limits.maxFileBytes))")
        }
        let declared = expected.reduce(Int64(0)) { $0 + $1.size }
        guard declared <= limits.maxTotalBytes else {
            throw WUError(.limitExceeded, "the manifest declares \(ByteSize.format(declared)) of files, more than the limit of \(ByteSize.format(limits.maxTotalBytes))")
        }

        let indexByPath = Dictionary(uniqueKeysWithValues: expected.enumerated().map { ($1.path, $0) })
        var next = 0
        var total: Int64 = 0
        var entries = 0
        while let entry = try reader.nextEntry() {
            entries += 1
            guard entries <= limits.maxEntries else {
                throw WUError(.limitExceeded, "the archive holds more than \(limits.maxEntries) entries")
            }
            let path = try checkEntryIsSafe(entry)
            guard let index = indexByPath[path] else {
                throw WUError(.unlistedEntry, "\(path) is in the archive but not in the signed manifest")
            }
            if index < next { throw WUError(.duplicateEntry, "\(path) appears twice in the archive") }
            if index > next {
                throw WUError(.entryOrder, "\(path) comes before \(expected[next].path): entries must follow the manifest's order (the archive was reordered or a file is missing)")
            }
            next += 1
            let file = expected[index]
            let headerSize = archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : -1
            guard headerSize == file.size else {
                throw WUError(.tamperedFile, "\(path) is \(headerSize) bytes in the archive but \(file.size) in the manifest")
            }
            try sink.begin(file)
            var hasher = SHA256()
            var size: Int64 = 0
            try reader.readData { chunk in
                size += Int64(chunk.count)
                total += Int64(chunk.count)
                guard size <= file.size else { throw WUError(.tamperedFile, "\(path) holds more bytes than the manifest's \(file.size)") }
                hasher.update(bufferPointer: chunk)
                try sink.write(chunk)
                try reader.checkRatio(total: total, limits: limits)
            }
            guard size == file.size else {
                throw WUError(.tamperedFile, "\(path) holds \(size) bytes but the manifest says \(file.size)")
            }
            let digest = Digest.hex(hasher.finalize())
            guard digest == file.sha256 else {
                throw WUError(.tamperedFile, "\(path) has SHA-256 \(digest) but the manifest says \(file.sha256)")
            }
            try sink.end(file)
        }
        guard next == expected.count else {
            throw WUError(.missingEntry, "\(expected[next].path) is listed in the manifest but missing from the archive (\(expected.count - next) file(s) missing)")
        }
        return VerifiedBundle(manifest: manifest, manifestBytes: manifestBytes, signatureBytes: signatureBytes, signer: signer)
    }

    /// Rejects every entry that is not a plain, safely named regular file; returns its path.
    static func checkEntryIsSafe(_ entry: OpaquePointer) throws -> String {
        guard let raw = archive_entry_pathname(entry) else { throw WUError(.unsafeEntry, "an entry has no readable path name") }
        let path = String(cString: raw)
        if path.hasPrefix("/") { throw WUError(.unsafeEntry, "\(path) is an absolute path; bundles hold relative paths only") }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." }) {
            throw WUError(.unsafeEntry, "\(path) contains '..'; bundles may not reach outside their tree")
        }
        if let target = archive_entry_hardlink(entry) {
            throw WUError(.unsafeEntry, "\(path) is a hard link to \(String(cString: target)); bundles hold regular files only")
        }
        let type = mode_t(archive_entry_filetype(entry))
        switch type {
        case S_IFREG: break
        case S_IFLNK:
            let target = archive_entry_symlink(entry).map { String(cString: $0) } ?? "?"
            throw WUError(.unsafeEntry, "\(path) is a symbolic link to \(target); bundles hold regular files only")
        case S_IFCHR, S_IFBLK: throw WUError(.unsafeEntry, "\(path) is a device node; bundles hold regular files only")
        case S_IFIFO: throw WUError(.unsafeEntry, "\(path) is a FIFO; bundles hold regular files only")
        case S_IFDIR: throw WUError(.unsafeEntry, "\(path) is a directory entry; bundles hold regular files only")
        default: throw WUError(.unsafeEntry, "\(path) is a special file (type \(String(type, radix: 8))); bundles hold regular files only")
        }
        if archive_entry_mode(entry) & (S_ISUID | S_ISGID) != 0 {
            throw WUError(.unsafeEntry, "\(path) has the setuid or setgid bit; bundles may not carry privileged files")
        }
        guard Validate.isPayloadPath(path) || path.hasPrefix(Manifest.Image.entryPrefix) else {
            throw WUError(.unlistedEntry, "\(path) is not under code/ or inputs/ and is not in the signed manifest")
        }
        return path
    }
}

/// One libarchive reader for tar + zstd, owning the archive handle.
final class ArchiveReader {
    private let archive: OpaquePointer
    private let bytes: [UInt8]?
    private let name: String

    /// On a throw after every property is set, `deinit` still runs and frees the handle.
    init(_ source: BundleReader.Source) throws {
        guard let archive = archive_read_new() else { throw WUError(.io, "libarchive could not allocate a reader") }
        self.archive = archive
        archive_read_support_filter_zstd(archive)
        archive_read_support_format_tar(archive)
        switch source {
        case .file(let path):
            bytes = nil
            name = path
            guard archive_read_open_filename(archive, path, 1 << 20) == ARCHIVE_OK else {
                let reason = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
                // A file that is missing or unreadable is an I/O error (exit 1), not a damaged bundle (exit 4).
                let code = archive_errno(archive)
                if [ENOENT, EACCES, EISDIR, ENOTDIR].contains(code) {
                    throw WUError(.io, "cannot read the bundle \(path): \(String(cString: strerror(code)))")
                }
                throw WUError(.corruptArchive, "cannot read the bundle \(path): \(reason)")
            }
        case .bytes(let data):
            bytes = data
            name = "the bundle"
            let status = bytes!.withUnsafeBytes { archive_read_open_memory(archive, $0.baseAddress, $0.count) }
            guard status == ARCHIVE_OK else {
                let reason = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
 throw WUError(.corruptArchive, "cannot read the bundle: \(reason)")
            }
        }
    }

    deinit { archive_read_free(archive) }

    private func failure(_ what: String) -> WUError {
        let reason = archive_error_string(archive).map { String(cString: $0) } ?? "unexpected end of data"
        return WUError(.corruptArchive, "\(name) is damaged or truncated (\(what): \(reason))")
    }

    /// The next entry, or nil at a clean end of archive.
    func nextEntry() throws -> OpaquePointer? {
        try ArchiveEntries.next(archive, failed: failure)
    }

    /// Streams the current entry's data in libarchive's own blocks (no copy).
    func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try ArchiveEntries.readData(
            archive, failed: failure, sparse: { WUError(.unsafeEntry, "an entry is sparse; bundles hold plain files only") }, body
        )
    }

    /// Fails once more than the grace bytes have been inflated at a ratio above the limit.
    func checkRatio(total: Int64, limits: BundleLimits) throws {
        guard total > limits.ratioGraceBytes else { return }
        let compressed = max(1, archive_filter_bytes(archive, -1))
        if total / compressed > limits.maxCompressionRatio {
            throw WUError(
                .limitExceeded,
                "\(name) inflates \(ByteSize.format(compressed)) into more than \(ByteSize.format(total)) (ratio over \(limits.maxCompressionRatio):1): a decompression bomb"
            )
        }
    }

    /// Reads a small metadata entry that must sit at a fixed position.
    func readMetadataEntry(named expected: String, position: String, limit: Int64) throws -> [UInt8] {
        guard let entry = try nextEntry() else {
            throw WUError(.missingEntry, "\(name) has no \(expected): it is empty or not a wu bundle")
        }
        let path = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
        guard path == expected else {
            throw WUError(.entryOrder, "the \(position) entry must be \(expected), found '\(path)': not a wu bundle, or its entries were reordered")
        }
        guard mode_t(archive_entry_filetype(entry)) == S_IFREG else { throw WUError(.unsafeEntry, "\(expected) is not a regular file") }
        guard archive_entry_size(entry) <= limit else {
            throw WUError(.limitExceeded, "\(expected) is \(ByteSize.format(archive_entry_size(entry))), more than \(ByteSize.format(limit))")
        }
        var data: [UInt8] = []
        try readData { chunk in
            data += chunk
            guard data.count <= limit else { throw WUError(.limitExceeded, "\(expected) is larger than \(ByteSize.format(limit))") }
        }
        return data
    }
}
