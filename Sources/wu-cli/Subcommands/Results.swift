import ArgumentParser
import WUCore
import WUClient
import WURunner

extension WU {
    struct Results: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a job's results: DIR/<unit>/out/, DIR/<unit>/usage.json, DIR/aggregate/out/ (the layout of `wu run`).",
            discussion: "Names every unit that has no output (failed, cancelled or still running) and then exits 1; the outputs there are are written.")

        @Argument(help: "The job id.")
        var job: String

        @Option(name: .shortAndLong, help: "The directory to write.")
        var output: String

        @OptionGroup var options: OrchestratorOptions

        func run() async throws {
            let (units, missing) = try await ResultsDownloader.downloadReporting(client: options.client(), jobID: job, to: output)
            if options.json {
                struct Output: Encodable {
                    let written: [String]
                    let missing: [ResultsDownloader.Missing]
                }
                try options.printJSON(Output(written: units, missing: missing))
            } else {
                print(units.isEmpty ? "wrote no outputs to \(output)" : "wrote \(units.count) output\(units.count == 1 ? "" : "s") to \(output): \(units.joined(separator: ", "))")
            }
            guard missing.isEmpty else {
                for unit in missing.prefix(100) {
                    FileHandleLine.standardError("unit \(unit.unit): \(unit.state)" + (unit.why.map { ": " + $0 } ?? ""))
                }
                if missing.count > 100 { FileHandleLine.standardError("… \(missing.count - 100) more: wu status \(job) --units") }
                let total = units.count + missing.count
                let others = units.isEmpty ? "" : "; the others are in \(output)"
                throw WUError(.io, "\(missing.count) of \(total) unit\(total == 1 ? "" : "s") \(missing.count == 1 ? "has" : "have") no output (listed above)\(others)")
            }
        }
    }
}
