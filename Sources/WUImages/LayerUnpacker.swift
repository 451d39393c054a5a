import CArchive
public import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// Applies an image's layers, lowest first, into a new directory: the image's root filesystem.
///
/// The bundle's safety rules hold, plus OCI's. Every step is relative to a directory descriptor
/// (`openat`/`mkdirat`/`linkat`/`symlinkat` with `O_NOFOLLOW`), and a path that would go through a
/// symbolic link or up through `..` is refused, so nothing lands outside the destination whatever
/// the layer says. Whiteouts apply to lower layers (`.wh.NAME` removes NAME, `.wh..wh..opq` empties
/// the directory of what lower layers put there); aufs' other `.wh..wh.` entries are ignored.
///
/// What an image may not bring: device nodes, FIFOs and sockets are **skipped** (and listed in the
/// report), not refused: rootfs tars (`mmdebstrap --format=tar`) carry `/dev` nodes, and the sandbox
/// mounts its own `/dev` over them anyway; creating one would need privilege and could open a host
/// device. Setuid and setgid bits are stripped. Symbolic links are stored as they are (an absolute
/// target means the image's root once it is `/`), never followed here. Hard links must name a
/// regular file already in this root. Sparse entries are refused.
///
/// Ownership: nothing of the tar's uid, gid, names, xattrs or ACLs is applied (file capabilities
/// included). Every file belongs to the user unpacking (the runner), with the tar's permission bits
/// (less setuid/setgid) and, for regular files, its mtime (Python compares `.pyc` stamps to it).
/// Showing image files as root inside the sandbox is the sandbox's job (an ownership shift or an
/// idmapped mount), never this one's.
public enum LayerUnpacker {
    /// Bounds on unpacking one image (all its layers together).
    public struct Limits: Sendable {
        /// Tar entries over all layers. A Debian rootfs with Python has ~10,000; a CUDA + PyTorch
        /// image under 100,000; a layer of 200,000 tiny files is a probe, not an environment.
        public var maxEntries = 150_000
        /// Uncompressed tar bytes over all layers: the caller's (the runner's `--max-image-size`).
        public var maxBytes: Int64
        /// Uncompressed ÷ compressed bytes of a layer, checked past `ratioGraceBytes` (as for bundles).
        public var maxCompressionRatio: Int64 = BundleLimits.default.maxCompressionRatio
        public var ratioGraceBytes: Int64 = BundleLimits.default.ratioGraceBytes

        public init(maxBytes: Int64) { self.maxBytes = maxBytes }
    }

    /// One layer to apply: the blob's file and what the signed manifest says of it.
    public struct Blob: Sendable {
        public var path: String
        public var layer: Manifest.Image.Layer

        public init(path: String, layer: Manifest.Image.Layer) {
            self.path = path
            self.layer = layer
        }
    }

    /// What unpacking did beyond writing the tree.
    public struct Report: Sendable, Equatable {
        public var entries = 0
        /// Uncompressed tar bytes read.
        public var bytes: Int64 = 0
        /// Device nodes, FIFOs and sockets not created, as `layer N: path`.
        public var skipped: [String] = []
    }

    /// Unpacks `blobs` in order into `destination`, which must not exist; on any failure (a layer's
    /// digest or diff_id that does not match included) the destination is removed.
    public static func unpack(_ blobs: [Blob], into destination: String, limits: Limits) throws -> Report {
        guard mkdir(destination, 0o700) == 0 else {
            throw WUError(.io, "cannot unpack into \(destination): it must not exist yet", cause: SystemCallError("mkdir", path: destination, errno: errno))
        }
        do {
            let root = try FileIO.open(destination, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            defer { close(root) }
            var tree = RootTree(root: root)
            var report = Report()
            for (index, blob) in blobs.enumerated() {
                try apply(blob, index: index, to: &tree, report: &report, limits: limits)
            }
            tree.applyDeferredModes()
            fchmod(root, 0o755)
            return report
        } catch {
            DirectoryTree.remove(destination)
            throw error
        }
    }

    static func apply(_ blob: Blob, index: Int, to tree: inout RootTree, report: inout Report, limits: Limits) throws {
        guard let compression = blob.layer.compression else {
            throw WUError(.invalidManifest, "layer \(index) has media type \(blob.layer.mediaType), which wu does not unpack")
        }
        let name = "layer \(index) (\(blob.layer.digest))"
        let streamLimits = LayerStream.Limits(
            maxTarBytes: limits.maxBytes - report.bytes, maxCompressionRatio: limits.maxCompressionRatio, ratioGraceBytes: limits.ratioGraceBytes
        )
        let stream = try LayerStream(path: blob.path, name: name, compression: compression, limits: streamLimits)
        let tar = try TarEntries(stream)
        tree.startLayer()
        while let entry = try tar.next() {
            report.entries += 1
            guard report.entries <= limits.maxEntries else {
                throw WUError(.limitExceeded, "the image holds more than \(limits.maxEntries) entries (at \(name)); that is more than wu unpacks")
            }
            if let skipped = try tree.apply(entry, from: tar) { report.skipped.append("layer \(index): \(skipped)") }
        }
        try LayerStream.check(blob.layer, stream)
        report.bytes += stream.tarBytes
    }
}
