import CArchive
#if canImport(Glibc)
import Glibc
#endif

/// DESIGN.md's output layout, shared by `wu run -o D` and `wu results JOB -o D`:
/// `D/<unit-id>/out/`, `D/<unit-id>/usage.json`, and `D/aggregate/…` when the job has one.
public enum ResultsLayout {
    /// Unpacks the orchestrator's results tar (`<unit>/usage.json`, `<unit>/out.archive`) into `directory`,
    /// checking each output archive against the output digest the quorum agreed on.
    ///
    /// - Parameter outputDigests: unit id → agreed output digest (from the job's units view).
    /// - Throws: `tamperedFile` when an archive does not match its digest, `unsafeEntry` for a bad name.
    public static func unpack(resultsTar: String, outputDigests: [String: String], to directory: String) throws -> [String] {
        try FileIO.makeDirectories(directory)
        guard let archive = archive_read_new() else { throw WUError(.io, "libarchive could not allocate a reader") }
        defer { archive_read_free(archive) }
        archive_read_support_format_tar(archive)
        guard archive_read_open_filename(archive, resultsTar, 1 << 20) == ARCHIVE_OK else {
            throw WUError(.corruptArchive, "cannot read the results \(resultsTar)")
        }
        var units: [String] = []
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN, let entry else { throw WUError(.corruptArchive, "the results archive is damaged or truncated") }
            let name = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
            let parts = name.split(separator: "/").map(String.init)
            guard parts.count == 2, Manifest.isValidUnitID(parts[0]) || parts[0] == "aggregate",
                ["usage.json", "out.archive"].contains(parts[1]), mode_t(archive_entry_filetype(entry)) == S_IFREG
            else {
                throw WUError(.unsafeEntry, "the results archive holds an unexpected entry '\(name)'")
            }
            let unitDirectory = directory + "/" + parts[0]
            if mkdir(unitDirectory, 0o755) != 0 && errno != EEXIST {
                throw WUError(.io, "cannot create \(unitDirectory)", cause: SystemCallError("mkdir", path: unitDirectory, errno: errno))
            }
            let target = parts[1] == "usage.json" ? unitDirectory + "/usage.json" : unitDirectory + "/.out.archive"
            let fd = try FileIO.open(target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o644)
            var block: UnsafeRawPointer?
            var size = 0
            var offset: Int64 = 0
            while archive_read_data_block(archive, &block, &size, &offset) == ARCHIVE_OK {
                try FileIO.writeAll(fd, UnsafeRawBufferPointer(start: block, count: size), path: target)
            }
            close(fd)
            if parts[1] == "out.archive" {
                defer { unlink(target) }
                guard let digest = outputDigests[parts[0]] else {
                    throw WUError(.unlistedEntry, "the results hold an output for '\(parts[0])', which has no agreed digest")
                }
                let out = unitDirectory + "/out"
                FileIO.removeTree(out)
                try OutputArchive.extract(compressed: target, expectedOutputDigest: digest, to: out)
                units.append(parts[0])
            }
        }
        return units
    }
}
