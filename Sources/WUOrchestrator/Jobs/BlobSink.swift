import WUCore

/// Stores each payload file of a bundle being verified as a content-addressed blob.
///
/// `BundleReader` calls `end` only after a file's size and digest matched the manifest, and only
/// then is the blob renamed into place.
struct BlobSink: BundleSink {
    let blobs: BlobStore
    private var writer: BlobStore.Writer?
    private(set) var stored: [String] = []

    init(blobs: BlobStore) { self.blobs = blobs }

    mutating func begin(_ file: Manifest.File) throws {
        writer = try BlobStore.Writer(directory: blobs.directory)
    }

    mutating func write(_ chunk: UnsafeRawBufferPointer) throws {
        try writer?.write(chunk)
    }

    mutating func end(_ file: Manifest.File) throws {
        guard let writer else { return }
        self.writer = nil
        if blobs.exists(file.sha256) {
            writer.discard()
        } else {
            try writer.commit(to: blobs.path(file.sha256), directory: blobs.directory)
        }
        stored.append(file.sha256)
    }

    mutating func abort() {
        writer?.discard()
        writer = nil
    }
}
