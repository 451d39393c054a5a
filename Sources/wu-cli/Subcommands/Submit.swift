import ArgumentParser
import WUProtocol
import WURunner

extension WU {
    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit a .wu bundle to an orchestrator as a new job; prints the job id.")

        @Argument(help: "The .wu bundle (from `wu pack`).")
        var bundle: String

        @Option(help: "Higher runs first (default 0).")
        var priority: Int?

        @OptionGroup var options: OrchestratorOptions

        func run() async throws {
            let response = try await options.client().submit(bundle: bundle, priority: priority)
            if options.json { return try options.printJSON(response) }
            print(response.jobID)
            FileHandleLine.standardError("submitted \(response.name): job \(response.jobID), \(response.units) unit(s), \(response.copies) cop(ies), priority \(response.priority)")
        }
    }
}
