import ArgumentParser
import WUProtocol
import WUClient
import WURunner

extension WU {
    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit a .wu bundle to an orchestrator as a new job; prints the job id.",
            discussion: "Warns on standard error when no active runner could take the job (its profile, resources or arch), without refusing it: runners come and go.")

        @Argument(help: "The .wu bundle (from `wu pack`).")
        var bundle: String

        @Option(help: "Higher runs first (default 0).")
        var priority: Int?

        @OptionGroup var options: OrchestratorOptions

        func run() async throws {
            let client = try options.client()
            let response = try await client.submit(bundle: bundle, priority: priority)
            if options.json { try options.printJSON(response) } else { print(response.jobID) }
            let units = "\(response.units) unit\(response.units == 1 ? "" : "s")"
            let copies = "\(response.copies) \(response.copies == 1 ? "copy" : "copies")"
            FileHandleLine.standardError("submitted \(response.name): job \(response.jobID), \(units), \(copies), priority \(response.priority)")
            // The job is in; a failure to read it back must not look like a failed submit.
            if let view = try? await client.job(response.jobID), let reason = view.waiting.first(where: \.noRunnerFits) {
                FileHandleLine.standardError("wu: warning: no active runner can take job \(response.jobID) now: \(reason.reason); it waits until one can")
            }
        }
    }
}
