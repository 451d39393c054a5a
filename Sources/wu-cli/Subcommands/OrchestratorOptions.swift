import ArgumentParser
import FoundationEssentials
import WUCore
import WUClient
import WURunner
#if canImport(Glibc)
import Glibc
#endif

/// `--orchestrator`, `--token` and `--json`, shared by every command that talks to an orchestrator.
struct OrchestratorOptions: ParsableArguments {
    @Option(help: "The orchestrator's URL (or WU_ORCHESTRATOR), e.g. http://127.0.0.1:8080.")
    var orchestrator: String?

    @Option(help: "A requester or admin token (or WU_TOKEN).")
    var token: String?

    @Option(help: "Trust only this CA (PEM) for an https orchestrator with a private CA (or WU_CA); default the system's roots.")
    var ca: String?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func client() throws -> OrchestratorClient {
        guard let url = orchestrator ?? env("WU_ORCHESTRATOR") else {
            throw ValidationError("give --orchestrator URL or set WU_ORCHESTRATOR")
        }
        guard let token = token ?? env("WU_TOKEN") else {
            throw ValidationError("give --token or set WU_TOKEN (an operator makes one with `wu-orchestrator token create --role requester`)")
        }
        return OrchestratorClient(baseURL: url, token: token, http: try OrchestratorClient.http(trustingCA: ca ?? env("WU_CA")))
    }

    func env(_ name: String) -> String? { ProcessEnvironment.value(name) }

    /// Prints a value as pretty JSON.
    func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
