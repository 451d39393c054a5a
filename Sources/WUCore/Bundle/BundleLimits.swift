/// Bounds on what reading a bundle may cost, checked while streaming.
public struct BundleLimits: Sendable {
    /// The largest `WU-MANIFEST.json` or `WU-SIGNATURE` accepted.
    public var maxManifestBytes: Int64 = 16 << 20
    /// Payload entries (files) in one bundle.
    public var maxEntries: Int = 100_000
    /// One payload file.
    public var maxFileBytes: Int64 = 8 << 30
    /// All payload files together, uncompressed.
    public var maxTotalBytes: Int64 = 32 << 30
    /// Uncompressed ÷ compressed bytes, checked once more than `ratioGraceBytes` have been decompressed.
    public var maxCompressionRatio: Int64 = 200
    public var ratioGraceBytes: Int64 = 16 << 20

    public init() {}

    public static let `default` = BundleLimits()
}
