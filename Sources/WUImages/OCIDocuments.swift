/// The OCI (and docker v2) JSON documents wu reads, as far as it reads them. Unknown keys are
/// allowed (the formats grow); sizes are bounded before decoding and counts after.
enum OCI {
    static let manifestTypes: Set<String> = [
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
    ]
    static let indexTypes: Set<String> = [
        "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
    static let ociConfigType = "application/vnd.oci.image.config.v1+json"
    static let refNameAnnotation = "org.opencontainers.image.ref.name"

    struct Layout: Decodable {
        let imageLayoutVersion: String
    }

    struct Descriptor: Decodable {
        let mediaType: String?
        let digest: String
        let size: Int64
        let platform: PlatformSpec?
        let urls: [String]?
        let annotations: [String: String]?

        var refName: String? { annotations?[OCI.refNameAnnotation] }
        var platformText: String { platform.map { "\($0.os)/\($0.architecture)\($0.variant.map { "/" + $0 } ?? "")" } ?? "no platform" }
    }

    struct PlatformSpec: Decodable {
        let architecture: String
        let os: String
        let variant: String?
    }

    struct Index: Decodable {
        let schemaVersion: Int
        let manifests: [Descriptor]
    }

    struct ImageManifest: Decodable {
        let schemaVersion: Int
        let config: Descriptor
        let layers: [Descriptor]
    }

    struct Config: Decodable {
        let architecture: String
        let os: String
        let variant: String?
        let config: Settings?
        let rootfs: RootFS
    }

    /// The container settings of a config (`config` inside it), in docker's capitalised names.
    struct Settings: Decodable {
        let entrypoint: [String]?
        let cmd: [String]?
        let env: [String]?
        let workingDir: String?
        let user: String?

        enum CodingKeys: String, CodingKey {
            case entrypoint = "Entrypoint", cmd = "Cmd", env = "Env", workingDir = "WorkingDir", user = "User"
        }
    }

    struct RootFS: Decodable {
        let type: String
        let diffIDs: [String]

        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
    }
}
