import ArgumentParser
import WUCore

extension WU {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a bundle's signature against trusted keys and every file against its manifest.")

        @Argument(help: "The .wu bundle.")
        var bundle: String

        @OptionGroup var trust: TrustOptions

        @Option(name: .customLong("extract"), help: "Also extract the payload into this new directory while verifying (removed again on any failure).")
        var destination: String?

        func run() throws {
            let store = try trust.store()
            let verified = try destination.map { try BundleReader.extract(.file(bundle), trusting: store, to: $0) }
                ?? BundleReader.verify(.file(bundle), trusting: store)
            let manifest = verified.manifest
            let bytes = manifest.files.reduce(Int64(0)) { $0 + $1.size }
            print(
                "ok: \(manifest.name) \(manifest.version), \(manifest.units.count) unit(s), \(manifest.files.count) file(s) (\(ByteSize.format(bytes))), signed by key \(verified.signer.keyID)\(verified.signer.name.isEmpty ? "" : " (\(verified.signer.name))")"
            )
        }
    }
}

/// `--trust KEY.pub…` and `--trust-dir DIR`, shared by every command that checks signatures.
struct TrustOptions: ParsableArguments {
    @Option(name: .customLong("trust"), help: "A trusted public key (NAME.pub); repeatable.")
    var keys: [String] = []

    @Option(name: .customLong("trust-dir"), help: "A directory whose *.pub files are trusted.")
    var directory: String?

    func store() throws -> TrustStore {
        try TrustStore.load(files: keys, directory: directory)
    }
}
