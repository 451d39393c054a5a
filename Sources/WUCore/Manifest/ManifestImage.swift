/// The OCI image a job runs in, pinned by the signed manifest (`"image"` in `wu.json`).
///
/// Layers are not payload files: the `.wu` file carries each blob once, after the payload, as
/// ``Manifest/imageEntries``, and the verifier checks them like any listed file. Of the image's
/// config only the layers and the architecture decide anything: the unit's command, environment,
/// working directory (`/code`) and user stay wu's. The config's entrypoint, cmd, env, working dir
/// and user are copied here, signed, so `wu inspect` can show what the image would have run.
extension Manifest {
    public struct Image: Codable, Sendable, Equatable {
        /// More layers than overlayfs stacks in one mount (and docker builds) is not an image wu runs.
        public static let maxLayers = 128
        /// Bounds on the config parts copied into the manifest: entrypoint, cmd and env items.
        public static let maxConfigItems = 4096
        /// The directory of image blobs in a bundle, after the payload: `WU-IMAGE/sha256/<hex>`.
        public static let entryPrefix = "WU-IMAGE/sha256/"

        /// The config blob (`application/vnd.oci.image.config.v1+json` or docker's).
        public var config: Blob
        /// In the order they are applied, lowest first.
        public var layers: [Layer]
        /// OCI (GOARCH) names: `amd64`, `arm64`.
        public var architecture: String
        public var os: String
        public var entrypoint: [String]?
        public var cmd: [String]?
        public var env: [String]?
        public var workingDir: String?
        public var user: String?

        public init(
            config: Blob, layers: [Layer], architecture: String, os: String = "linux", entrypoint: [String]? = nil, cmd: [String]? = nil,
            env: [String]? = nil, workingDir: String? = nil, user: String? = nil
        ) {
            self.config = config
            self.layers = layers
            self.architecture = architecture
            self.os = os
            self.entrypoint = entrypoint
            self.cmd = cmd
            self.env = env
            self.workingDir = workingDir
            self.user = user
        }

        enum CodingKeys: String, CodingKey {
            case config, layers, architecture, os, entrypoint, cmd, env, user
            case workingDir = "working_dir"
        }

        /// A blob as an OCI descriptor names it.
        public struct Blob: Codable, Sendable, Equatable {
            /// `sha256:<64 lower-case hex>`.
            public var digest: String
            public var size: Int64
            public var mediaType: String

            public init(digest: String, size: Int64, mediaType: String) {
                self.digest = digest
                self.size = size
                self.mediaType = mediaType
            }

            /// The hex part of ``digest``: the blob's name in a bundle and in content-addressed stores.
            public var sha256: String { String(digest.dropFirst(Image.digestPrefix.count)) }

            enum CodingKeys: String, CodingKey {
                case digest, size
                case mediaType = "media_type"
            }
        }

        /// A layer: its blob (compressed as shipped) and the digest of its uncompressed tar.
        public struct Layer: Codable, Sendable, Equatable {
            public var digest: String
            public var size: Int64
            public var mediaType: String
            /// `sha256:<hex>` of the uncompressed tar (the config's `rootfs.diff_ids` entry).
            public var diffID: String

            public init(digest: String, size: Int64, mediaType: String, diffID: String) {
                self.digest = digest
                self.size = size
                self.mediaType = mediaType
                self.diffID = diffID
            }

            public var sha256: String { String(digest.dropFirst(Image.digestPrefix.count)) }
            public var compression: Compression? { Image.layerCompression[mediaType] }

            enum CodingKeys: String, CodingKey {
                case digest, size
                case mediaType = "media_type"
                case diffID = "diff_id"
            }
        }

        public enum Compression: String, Sendable { case none, gzip, zstd }

        public static let digestPrefix = "sha256:"

        /// The layer media types wu unpacks (OCI's and docker v2's), and how each is compressed.
        public static let layerCompression: [String: Compression] = [
            "application/vnd.oci.image.layer.v1.tar": .none,
            "application/vnd.oci.image.layer.v1.tar+gzip": .gzip,
            "application/vnd.oci.image.layer.v1.tar+zstd": .zstd,
            "application/vnd.docker.image.rootfs.diff.tar": .none,
            "application/vnd.docker.image.rootfs.diff.tar.gzip": .gzip,
        ]

        public static let configMediaTypes: Set<String> = [
            "application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json",
        ]

        /// True for `sha256:` and 64 lower-case hex digits.
        public static func isDigest(_ text: String) -> Bool {
            text.hasPrefix(digestPrefix) && Digest.isSHA256(String(text.dropFirst(digestPrefix.count)))
        }
    }

    /// The image blobs a bundle carries after its payload, in order: the config, then each distinct
    /// layer as it first appears. Each is checked like a payload file (size, SHA-256); none is ever
    /// placed in a unit's tree.
    public var imageEntries: [File] {
        guard let image else { return [] }
        var seen = Set<String>()
        var entries: [File] = []
        let blobs = [(image.config.sha256, image.config.size)] + image.layers.map { ($0.sha256, $0.size) }
        for (sha256, size) in blobs where seen.insert(sha256).inserted {
            entries.append(File(path: Image.entryPrefix + sha256, sha256: sha256, size: size, mode: 0o644))
        }
        return entries
    }

    /// Checks the image object's bounds: layer count, digests, sizes, media types, config parts.
    func validateImage(_ fail: (String) -> WUError) throws {
        guard let image else { return }
        guard (1...Image.maxLayers).contains(image.layers.count) else {
            throw fail("image has \(image.layers.count) layers; 1 to \(Image.maxLayers) are allowed")
        }
        guard Image.isDigest(image.config.digest), image.config.size >= 0, image.config.size <= Image.maxConfigBytes else {
            throw fail("image.config needs a sha256: digest and a size of at most \(Image.maxConfigBytes) bytes")
        }
        guard Image.configMediaTypes.contains(image.config.mediaType) else {
            throw fail("image.config has media type '\(image.config.mediaType)', not an image config")
        }
        for (index, layer) in image.layers.enumerated() {
            guard Image.isDigest(layer.digest), Image.isDigest(layer.diffID), layer.size >= 0 else {
                throw fail("image.layers[\(index)] needs sha256: digest and diff_id and a size of at least 0")
            }
            guard layer.compression != nil else {
                throw fail("image.layers[\(index)] has media type '\(layer.mediaType)'; wu unpacks tar layers, plain, gzip or zstd")
            }
        }
        guard Validate.isIdentifier(image.architecture), image.os == "linux" else {
            throw fail("image must be a linux image with a valid architecture, got \(image.os)/\(image.architecture)")
        }
        let lists = [image.entrypoint, image.cmd, image.env].compactMap { $0 }
        guard lists.allSatisfy({ $0.count <= Image.maxConfigItems }) else {
            throw fail("image entrypoint, cmd and env may have at most \(Image.maxConfigItems) items each")
        }
        let texts = lists.flatMap { $0 } + [image.workingDir, image.user].compactMap { $0 }
        guard texts.allSatisfy({ !$0.utf8.contains(0) }) else { throw fail("image config strings must not contain NUL bytes") }
    }
}

extension Manifest.Image {
    /// The largest config blob wu reads (an image config is a few KiB; history makes it grow).
    public static let maxConfigBytes: Int64 = 4 << 20
}
