public import CArchive

/// The two libarchive read steps every reader of a tar repeats: the next header, and an entry's
/// data in libarchive's own blocks. Shared by the bundle reader and the image readers (WUImages).
public enum ArchiveEntries {
    /// The next entry, or nil at a clean end of archive; `failed` names what went wrong.
    public static func next(_ archive: OpaquePointer, failed: (String) -> WUError) throws -> OpaquePointer? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(archive, &entry)
        if status == ARCHIVE_EOF { return nil }
        guard status >= ARCHIVE_WARN, let entry else { throw failed("reading an entry header") }
        return entry
    }

    /// Streams the current entry's data (no copy). tar never has holes, but a crafted sparse entry
    /// could: a gap throws `sparse`.
    public static func readData(
        _ archive: OpaquePointer, failed: (String) -> WUError, sparse: () -> WUError, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var block: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        var expected: Int64 = 0
        while true {
            let status = archive_read_data_block(archive, &block, &size, &offset)
            if status == ARCHIVE_EOF { return }
            guard status >= ARCHIVE_WARN else { throw failed("reading data") }
            guard offset == expected else { throw sparse() }
            expected += Int64(size)
            if size > 0 { try body(UnsafeRawBufferPointer(start: block, count: size)) }
        }
    }
}
