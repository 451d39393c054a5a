/// Receives the payload files of a bundle as `BundleReader` streams and checks them.
///
/// `begin` comes before a file's bytes, `write` for each chunk, `end` only after the file's size and
/// SHA-256 matched the manifest. `abort` is called once if verification fails; the sink then removes
/// whatever it wrote.
public protocol BundleSink {
    mutating func begin(_ file: Manifest.File) throws
    mutating func write(_ chunk: UnsafeRawBufferPointer) throws
    mutating func end(_ file: Manifest.File) throws
    mutating func abort()
}

/// A sink that keeps nothing: verification only.
public struct DiscardingSink: BundleSink {
    public init() {}
    public mutating func begin(_ file: Manifest.File) throws {}
    public mutating func write(_ chunk: UnsafeRawBufferPointer) throws {}
    public mutating func end(_ file: Manifest.File) throws {}
    public mutating func abort() {}
}
