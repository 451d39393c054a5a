import ArgumentParser
import WURunner

extension WU {
    struct Results: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a job's results: DIR/<unit>/out/, DIR/<unit>/usage.json, DIR/aggregate/out/ (the layout of `wu run`).")

        @Argument(help: "The job id.")
        var job: String

        @Option(name: .shortAndLong, help: "The directory to write.")
        var output: String

        @OptionGroup var options: OrchestratorOptions

        func run() async throws {
            let units = try await ResultsDownloader.download(client: options.client(), jobID: job, to: output)
            if options.json { return try options.printJSON(units) }
            print("wrote \(units.count) output(s) to \(output): \(units.joined(separator: ", "))")
        }
    }
}
