import ArgumentParser
import FoundationEssentials
import WUCore

extension WU {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what a bundle holds (signer, units, resources, files) without trusting or extracting it.")

        @Argument(help: "The .wu bundle.")
        var bundle: String

        @Flag(help: "Print the manifest and signer as JSON.")
        var json = false

        func run() throws {
            let (manifest, signature, _) = try BundleReader.inspect(.file(bundle))
            if json {
                struct Output: Encodable {
                    let signerKeyID: String
                    let manifest: Manifest
                    enum CodingKeys: String, CodingKey {
                        case signerKeyID = "signer_key_id"
                        case manifest
                    }
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(Output(signerKeyID: signature.keyID, manifest: manifest)), as: UTF8.self))
                return
            }
            print(BundleDescription.text(of: manifest, signerKeyID: signature.keyID))
        }
    }
}
