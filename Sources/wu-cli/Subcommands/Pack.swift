import ArgumentParser
import WUCore
import WUImages
import WUProfiles

extension WU {
    struct Pack: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pack a job directory (wu.json, code/, inputs/) into one signed, deterministic .wu bundle.")

        @Argument(help: "The job directory.")
        var directory: String

        @Option(name: .shortAndLong, help: "Where to write the bundle.")
        var output: String

        @Option(help: "The private key to sign with (NAME.key from `wu keygen`).")
        var key: String

        func run() throws {
            let signingKey = try KeyFiles.loadPrivate(key)
            let packed = try BundlePacker.pack(
                jobDirectory: directory, key: signingKey, output: output, checkProfile: SandboxProfile.checkForPacking,
                knownProfiles: SandboxProfile.builtinNames, loadImage: ImageReader.load
            )
            let payload = packed.manifest.files.reduce(Int64(0)) { $0 + $1.size }
            print(
                "packed \(packed.manifest.name) \(packed.manifest.version): \(packed.manifest.units.count) unit(s), \(packed.manifest.files.count) file(s), \(ByteSize.format(payload)) → \(output) (\(ByteSize.format(packed.bundleBytes))), signed by key \(packed.signer.keyID)"
            )
        }
    }
}
