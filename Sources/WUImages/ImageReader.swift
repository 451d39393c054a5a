import CArchive
import FoundationEssentials
public import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// Reads the image a job names (`"image"` in `wu.json`) for `wu pack`: an OCI image layout
/// directory, an `oci-archive` tar of one, or a plain rootfs tar made into a one-layer image.
///
/// It is the requester's disk, but what is read here is signed and then trusted by volunteers, so
/// everything is checked and bounded: JSON sizes and counts, every blob's size and digest against
/// its descriptor, each layer's uncompressed digest against the config's `rootfs.diff_ids`, the
/// architecture against `resources.arch` (or this machine's), and bomb ratios as a runner checks them.
public enum ImageReader {
    /// The largest `index.json`, image manifest or `oci-layout` read.
    static let maxDocumentBytes = 4 << 20
    /// Images an index may name; nested indexes followed.
    static let maxDescriptors = 1024
    static let maxIndexDepth = 2
    /// What a layer may inflate to when checked at packing: the unpack bounds a runner applies by default.
    static let layerLimits = LayerStream.Limits(
        maxTarBytes: BundleLimits.default.maxTotalBytes, maxCompressionRatio: BundleLimits.default.maxCompressionRatio,
        ratioGraceBytes: BundleLimits.default.ratioGraceBytes
    )

    /// Reads and checks the image at `path` (absolute, inside the job directory) for `arch` (a
    /// `uname -m` name; nil means this machine's). An archive's blobs are unpacked under `scratch`;
    /// a rootfs tar's made config is written there.
    ///
    /// - Throws: `invalidJobSpec` for an image that is not for this architecture or not one of the
    ///   three forms; `tamperedFile` for a blob whose digest, size or diff_id disagrees; `unsafeEntry`,
    ///   `limitExceeded`, `corruptArchive` as a bundle would be refused.
    public static func load(path: String, arch: String?, scratch: String) throws -> BundlePacker.PackableImage {
        let machine = arch ?? Platform.hostMachine
        guard let wanted = Platform.ociByMachine[machine] else {
            let known = Platform.ociByMachine.keys.sorted().joined(separator: ", ")
            throw WUError(.invalidJobSpec, "resources.arch '\(machine)' names no architecture images are built for (\(known))")
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { throw WUError(.invalidJobSpec, "image: cannot find \(path)", cause: SystemCallError("lstat", path: path, errno: errno)) }
        let target = Target(machine: machine, architecture: wanted.architecture, variant: wanted.variant)
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            return try LayoutReader(path: path, target: target).read()
        case S_IFREG:
            switch try ArchiveKind.classify(path) {
            case .ociArchive:
                let layout = scratch + "/layout"
                try ArchiveKind.extractLayout(path, into: layout)
                return try LayoutReader(path: layout, target: target).read()
            case .rootfs(let compression):
                return try rootfsImage(path, compression: compression, target: target, scratch: scratch)
            }
        default:
            throw WUError(.invalidJobSpec, "image: \(path) is neither an OCI layout directory nor a tar")
        }
    }

    /// The platform packed for.
    struct Target {
        let machine: String
        let architecture: String
        let variant: String?

        var text: String { "linux/\(architecture)\(variant.map { "/" + $0 } ?? "")" }
    }

    /// A rootfs tar as a one-layer image. The config wu makes is fixed by the layer and the platform
    /// alone, so packing twice gives the same bytes: sorted keys, no spaces, no dates, no history,
    /// empty container settings (wu runs its own command, env, `/code` and user):
    /// `{"architecture":"amd64","config":{},"os":"linux","rootfs":{"diff_ids":["sha256:…"],"type":"layers"}}`
    /// (with `"variant":"v7"` last for 32-bit ARM). The layer keeps the tar's own bytes and compression.
    static func rootfsImage(_ path: String, compression: Manifest.Image.Compression, target: Target, scratch: String) throws -> BundlePacker.PackableImage {
        let stream = try LayerStream(path: path, name: "the rootfs tar \(path)", compression: compression, limits: layerLimits)
        let (digest, size, diffID) = try stream.finish()
        let mediaType = "application/vnd.oci.image.layer.v1.tar" + (compression == .none ? "" : "+" + compression.rawValue)
        let layer = Manifest.Image.Layer(digest: digest, size: size, mediaType: mediaType, diffID: diffID)
        let variant = target.variant.map { #","variant":"\#($0)""# } ?? ""
        let config = Array(
            #"{"architecture":"\#(target.architecture)","config":{},"os":"linux","rootfs":{"diff_ids":["\#(diffID)"],"type":"layers"}\#(variant)}"#.utf8
        )
        let configPath = scratch + "/config.json"
        let fd = try FileIO.open(configPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
        defer { close(fd) }
        try config.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: configPath) }
        let configDigest = Digest.sha256(config)
        let image = Manifest.Image(
            config: .init(digest: Manifest.Image.digestPrefix + configDigest, size: Int64(config.count), mediaType: OCI.ociConfigType),
            layers: [layer], architecture: target.architecture
        )
        return .init(image: image, machine: target.machine, blobSources: [layer.sha256: path, configDigest: configPath])
    }
}

/// Reads an OCI image layout directory, every step relative to its descriptor.
struct LayoutReader {
    let path: String
    let target: ImageReader.Target

    func read() throws -> BundlePacker.PackableImage {
        let directory = try FileIO.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        defer { close(directory) }
        let layout: OCI.Layout = try decode(try readFile(directory, "oci-layout"), "oci-layout")
        guard layout.imageLayoutVersion == "1.0.0" else {
            throw WUError(.invalidJobSpec, "image: \(path)/oci-layout has version \(layout.imageLayoutVersion); wu reads 1.0.0")
        }
        let index: OCI.Index = try decode(try readFile(directory, "index.json"), "index.json")
        let chosen = try select(from: index, directory: directory, depth: 0)
        let manifest: OCI.ImageManifest = try decode(try readBlob(chosen, directory: directory), "the image manifest \(chosen.digest)")
        guard (1...Manifest.Image.maxLayers).contains(manifest.layers.count) else {
            throw WUError(.invalidJobSpec, "image: the manifest has \(manifest.layers.count) layers; wu takes 1 to \(Manifest.Image.maxLayers)")
        }
        let configType = manifest.config.mediaType ?? ""
        guard Manifest.Image.configMediaTypes.contains(configType) else {
            throw WUError(.invalidJobSpec, "image: the config has media type '\(configType)', not an image config")
        }
        let config: OCI.Config = try decode(try readBlob(manifest.config, directory: directory, limit: Int(Manifest.Image.maxConfigBytes)), "the image config")
        try check(config, layers: manifest.layers.count)
        var blobSources = [try hex(manifest.config): blobPath(try hex(manifest.config))]
        var layers: [Manifest.Image.Layer] = []
        for (index, descriptor) in manifest.layers.enumerated() {
            let layer = try checkLayer(descriptor, index: index, diffID: config.rootfs.diffIDs[index], directory: directory)
            layers.append(layer)
            blobSources[layer.sha256] = blobPath(layer.sha256)
        }
        let settings = config.config
        let image = Manifest.Image(
            config: .init(digest: manifest.config.digest, size: manifest.config.size, mediaType: configType), layers: layers,
            architecture: config.architecture, os: config.os, entrypoint: settings?.entrypoint, cmd: settings?.cmd, env: settings?.env,
            workingDir: settings?.workingDir, user: settings?.user
        )
        return .init(image: image, machine: target.machine, blobSources: blobSources)
    }

    /// The one image manifest for the target platform, following nested indexes.
    func select(from index: OCI.Index, directory: Int32, depth: Int) throws -> OCI.Descriptor {
        guard index.manifests.count <= ImageReader.maxDescriptors else {
            throw WUError(.invalidJobSpec, "image: an index names \(index.manifests.count) manifests; wu reads at most \(ImageReader.maxDescriptors)")
        }
        let images = index.manifests.filter { OCI.manifestTypes.contains($0.mediaType ?? "") || OCI.indexTypes.contains($0.mediaType ?? "") }
        let matching = images.filter { descriptor in
            guard let platform = descriptor.platform else { return true }  // the config's architecture is checked instead
            return platform.os == "linux" && platform.architecture == target.architecture
                && (target.variant == nil || platform.variant == nil || platform.variant == target.variant)
        }
        guard matching.count == 1, let chosen = matching.first else {
            let found = images.map { "\($0.platformText)\($0.refName.map { " (\($0))" } ?? "")" }.joined(separator: ", ")
            if matching.isEmpty {
                throw WUError(
                    .invalidJobSpec,
                    "image: \(path) holds no image for \(target.text) (it has: \(found.isEmpty ? "none" : found)); set resources.arch to one it has, or save the image for this platform"
                )
            }
            throw WUError(
                .invalidJobSpec,
                "image: \(path) holds \(matching.count) images for \(target.text) (\(found)); keep one, e.g. skopeo copy oci:DIR:TAG oci-archive:image.tar"
            )
        }
        guard OCI.indexTypes.contains(chosen.mediaType ?? "") else { return chosen }
        guard depth < ImageReader.maxIndexDepth else { throw WUError(.invalidJobSpec, "image: indexes nest deeper than \(ImageReader.maxIndexDepth)") }
        let nested: OCI.Index = try decode(try readBlob(chosen, directory: directory), "the image index \(chosen.digest)")
        return try select(from: nested, directory: directory, depth: depth + 1)
    }

    func check(_ config: OCI.Config, layers: Int) throws {
        guard config.os == "linux", config.architecture == target.architecture,
            target.variant == nil || config.variant == nil || config.variant == target.variant
        else {
            throw WUError(
                .invalidJobSpec,
                "image: the image is for \(config.os)/\(config.architecture), not \(target.text); set resources.arch or use an image for this platform"
            )
        }
        guard config.rootfs.type == "layers", config.rootfs.diffIDs.count == layers else {
            throw WUError(.tamperedFile, "image: the config lists \(config.rootfs.diffIDs.count) diff_ids for \(layers) layers")
        }
    }

    /// A layer descriptor checked against its blob: size, digest, and the uncompressed digest against the config.
    func checkLayer(_ descriptor: OCI.Descriptor, index: Int, diffID: String, directory: Int32) throws -> Manifest.Image.Layer {
        let mediaType = descriptor.mediaType ?? ""
        guard descriptor.urls?.isEmpty ?? true else {
            throw WUError(.invalidJobSpec, "image: layer \(index) is a foreign layer (fetched from elsewhere); wu carries every layer itself")
        }
        guard let compression = Manifest.Image.layerCompression[mediaType] else {
            throw WUError(.invalidJobSpec, "image: layer \(index) has media type '\(mediaType)'; wu unpacks tar layers, plain, gzip or zstd")
        }
        guard Manifest.Image.isDigest(diffID) else { throw WUError(.invalidJobSpec, "image: the config's diff_id \(index) is not a sha256: digest") }
        let layer = Manifest.Image.Layer(digest: descriptor.digest, size: descriptor.size, mediaType: mediaType, diffID: diffID)
        let fd = try openBlob(try hex(descriptor), directory: directory)
        close(fd)
        let stream = try LayerStream(path: blobPath(layer.sha256), name: "image layer \(index) (\(layer.digest))", compression: compression, limits: ImageReader.layerLimits)
        try LayerStream.check(layer, stream)
        return layer
    }

    func blobPath(_ hex: String) -> String { path + "/blobs/sha256/" + hex }

    /// The hex of a descriptor's digest; only sha256 is taken.
    func hex(_ descriptor: OCI.Descriptor) throws -> String {
        guard Manifest.Image.isDigest(descriptor.digest), descriptor.size >= 0 else {
            throw WUError(.invalidJobSpec, "image: a descriptor has digest '\(descriptor.digest)'; wu takes sha256: digests with a size")
        }
        return String(descriptor.digest.dropFirst(Manifest.Image.digestPrefix.count))
    }

    /// `blobs/sha256/HEX`, opened without following a link at any step.
    func openBlob(_ hex: String, directory: Int32) throws -> Int32 {
        var current = dup(directory)
        for component in ["blobs", "sha256"] {
            let next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let error = errno
            close(current)
            guard next >= 0 else {
                throw WUError(.invalidJobSpec, "image: cannot open \(path)/blobs/sha256 (it must be a directory, not a link)", cause: SystemCallError("openat", errno: error))
            }
            current = next
        }
        defer { close(current) }
        let fd = openat(current, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw WUError(.invalidJobSpec, "image: the blob sha256:\(hex) is missing from \(path) (or is a link)", cause: SystemCallError("openat", errno: errno))
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw WUError(.invalidJobSpec, "image: the blob sha256:\(hex) is not a regular file")
        }
        return fd
    }

    /// A small blob's bytes, checked against its descriptor's size and digest.
    func readBlob(_ descriptor: OCI.Descriptor, directory: Int32, limit: Int = ImageReader.maxDocumentBytes) throws -> [UInt8] {
        let hex = try hex(descriptor)
        guard descriptor.size <= limit else {
            throw WUError(.limitExceeded, "image: the blob \(descriptor.digest) is \(ByteSize.format(descriptor.size)); wu reads documents up to \(ByteSize.format(Int64(limit)))")
        }
        let fd = try openBlob(hex, directory: directory)
        defer { close(fd) }
        let bytes = try readAll(fd, name: descriptor.digest, limit: limit)
        guard Int64(bytes.count) == descriptor.size, Digest.sha256(bytes) == hex else {
            throw WUError(.tamperedFile, "image: the blob \(descriptor.digest) does not match its descriptor (size \(descriptor.size), that digest)")
        }
        return bytes
    }

    func readFile(_ directory: Int32, _ name: String) throws -> [UInt8] {
        let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw WUError(.invalidJobSpec, "image: \(path) has no \(name) (is it an OCI image layout?)", cause: SystemCallError("openat", errno: errno))
        }
        defer { close(fd) }
        return try readAll(fd, name: name, limit: ImageReader.maxDocumentBytes)
    }

    func readAll(_ fd: Int32, name: String, limit: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try FileIO.read(fd, into: $0, path: name) }
            if n == 0 { return result }
            result += buffer[0..<n]
            guard result.count <= limit else { throw WUError(.limitExceeded, "image: \(name) is larger than \(ByteSize.format(Int64(limit)))") }
        }
    }

    func decode<T: Decodable>(_ bytes: [UInt8], _ what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw WUError(.invalidJobSpec, "image: \(what) in \(path) is not what OCI says it is (\(error))")
        }
    }
}
