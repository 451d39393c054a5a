import CArchive
import WUCore

#if canImport(Glibc)
import Glibc
#endif

/// `OutputArchive.extract`, as the runner uses it for an aggregate's inputs.
///
/// The input is the uncompressed output tar. The harness compresses it and passes its true digest,
/// as a quorum of hostile replicas could (the digest check is not what is under test). Asserts: a
/// refusal is a `WUError` and removes the destination; nothing is written outside the destination
/// (the temporary tar included); what is extracted holds only regular files and directories.
enum OutputHarness {
    static let limits = OutputArchive.Limits(maxFileBytes: 4 << 20, maxEntries: 256)
    static let blobName = "output.tar.zst"

    static func run(_ input: [UInt8]) throws(FuzzFailure) -> FuzzTarget.Outcome {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let blob = scratch.inputDirectory + "/" + blobName
        try compress(input, to: blob)
        let extracted: Void? = try refusingCleanly("OutputArchive.extract") {
            try OutputArchive.extract(compressed: blob, expectedOutputDigest: Digest.sha256(input), to: scratch.destination, limits: limits)
        }
        try scratch.checkNothingOutside(inputs: [blobName])
        guard extracted != nil else {
            try scratch.checkDestinationRemoved()
            return .rejected
        }
        _ = try scratch.extractedFiles()
        return .accepted
    }

    /// Writes `bytes` as one zstd stream, the form an output blob takes.
    static func compress(_ bytes: [UInt8], to path: String) throws(FuzzFailure) {
        guard let archive = archive_write_new() else { throw FuzzFailure("libarchive could not allocate a writer") }
        defer { archive_write_free(archive) }
        archive_write_add_filter_zstd(archive)
        archive_write_set_filter_option(archive, "zstd", "compression-level", "1")
        archive_write_set_format_raw(archive)
        let entry = archive_entry_new()
        defer { archive_entry_free(entry) }
        archive_entry_set_filetype(entry, UInt32(Glibc.S_IFREG))
        archive_entry_set_size(entry, Int64(bytes.count))
        let written = bytes.withUnsafeBytes { buffer in
            archive_write_open_filename(archive, path) == ARCHIVE_OK && archive_write_header(archive, entry) == ARCHIVE_OK
                && archive_write_data(archive, buffer.baseAddress, buffer.count) == buffer.count && archive_write_close(archive) == ARCHIVE_OK
        }
        guard written else { throw FuzzFailure("cannot compress the input: \(archive_error_string(archive).map { String(cString: $0) } ?? "")") }
    }
}
