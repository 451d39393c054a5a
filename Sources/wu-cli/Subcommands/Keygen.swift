import ArgumentParser
import WUCore

extension WU {
    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an Ed25519 signing key: NAME.key (private, mode 0600) and NAME.pub (share it with runners).")

        @Argument(help: "The key's name; files NAME.key and NAME.pub are written (a path prefix is allowed).")
        var name: String

        func run() throws {
            let key = try KeyFiles.generate(prefix: name)
            print("wrote \(name).key (private, keep it) and \(name).pub; key id \(key.publicKey.keyID)")
        }
    }
}
