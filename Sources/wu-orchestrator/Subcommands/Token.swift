import ArgumentParser
import WUCommandLine
import WUOrchestrator

extension WUOrchestratorCommand {
    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, list and revoke API tokens (works while the server runs).",
            subcommands: [Create.self, List.self, Revoke.self]
        )

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a token and print it once; only its SHA-256 is stored.")
            @OptionGroup var data: DataDirOptions
            @OptionGroup var initOption: InitOption
            @Option(help: "requester, runner or admin.") var role: String
            @Option(help: "Who it is for: jobs belong to this name, so a new token of the same name sees them; one live token per name.") var name: String

            func run() throws {
                guard let role = Role(rawValue: role) else { throw ValidationError("--role must be requester, runner or admin, not '\(role)'") }
                let store = try data.openExisting(initialize: initOption.initialize)
                print(try TokenAdmin(store: store).create(role: role, name: name))
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List tokens (never their text).")
            @OptionGroup var data: DataDirOptions

            func run() throws {
                let store = try data.openExisting(initialize: false)
                for token in try TokenAdmin(store: store).list() {
                    print("\(token.id)\t\(token.role.rawValue)\t\(token.name)\t\(token.revoked ? "revoked" : "active")")
                }
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke tokens by name or id; the server stops accepting them at once.")
            @OptionGroup var data: DataDirOptions
            @Argument(help: "Token name or id.") var token: String

            func run() throws {
                let store = try data.openExisting(initialize: false)
                let count = try TokenAdmin(store: store).revoke(token)
                print("revoked \(count) token\(count == 1 ? "" : "s")")
            }
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the public keys whose signed jobs are accepted.",
            subcommands: [Add.self, List.self, Remove.self]
        )

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Register a public key (a .pub file from `wu keygen`).")
            @OptionGroup var data: DataDirOptions
            @OptionGroup var initOption: InitOption
            @Option(help: "A name for the key.") var name: String
            @Argument(help: "The .pub file.") var file: String

            func run() throws {
                let store = try data.openExisting(initialize: initOption.initialize)
                let contents = try readFile(file)
                print(try KeyAdmin(store: store).add(name: name, publicKeyFile: contents))
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List registered keys.")
            @OptionGroup var data: DataDirOptions

            func run() throws {
                let store = try data.openExisting(initialize: false)
                for key in try KeyAdmin(store: store).list() { print("\(key.keyID)\t\(key.name)") }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a key by name or key id.")
            @OptionGroup var data: DataDirOptions
            @Argument(help: "Key name or key id.") var key: String

            func run() throws {
                let store = try data.openExisting(initialize: false)
                try KeyAdmin(store: store).remove(key)
                print("removed \(key)")
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

func readFile(_ path: String) throws -> String {
    guard let file = fopen(path, "r") else {
        throw ProgramError("cannot read \(path): \(String(cString: strerror(errno))); give the .pub file `wu keygen` wrote")
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes += buffer[0..<n]
        if bytes.count > 1 << 20 { throw ProgramError("\(path) is too large to be a key file; give the .pub file `wu keygen` wrote", status: ProgramError.Status.invalidInput) }
    }
    return String(decoding: bytes, as: UTF8.self)
}
