import ArgumentParser
import FoundationEssentials
import WUCore
import WUProtocol
import WUClient
import WURunner

extension WU {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one job: its state, counts by state, why units wait, failed units and the first units' usage; or every job you can see.")

        @Argument(help: "A job id; without it, every job.")
        var job: String?

        @Flag(help: "List every unit of the job with its copies and their usage, a page at a time.")
        var units = false

        @OptionGroup var options: OrchestratorOptions

        func run() async throws {
            let client = try options.client()
            guard let job else {
                if units { throw ValidationError("--units needs a job id: wu status JOB --units") }
                return try await list(client)
            }
            let view = try await client.job(job)
            if units { return try await everyUnit(client, view) }
            let report = try await JobReport.Units.fetch(client, job: job)
            if options.json {
                struct Output: Encodable {
                    let job: JobView
                    let units: [UnitView]
                    let failed: [UnitView]
                    let waiting: [UnitView]
                }
                return try options.printJSON(Output(job: view, units: report.first, failed: report.failed, waiting: report.waiting))
            }
            print(JobReport.render(view, report, now: Int64(Date().timeIntervalSince1970 * 1000)))
        }

        func list(_ client: OrchestratorClient) async throws {
            let list = try await client.jobs()
            if options.json { return try options.printJSON(list) }
            if list.jobs.isEmpty { return print("no jobs") }
            print("JOB        NAME              STATE        UNITS  PROGRESS  WAITING")
            for view in list.jobs {
                let waiting = view.waiting.first.map(\.reason) ?? ""
                let progress = String(Int(view.progress * 100)) + "%"
                print("\(view.jobID.padded(10)) \(view.name.padded(17)) \(view.state.padded(12)) \(String(view.unitsTotal).padded(6)) \(progress.padded(9)) \(waiting)")
            }
        }

        /// Every unit, fetched and printed a page at a time: a 100,000-unit job never sits in memory whole.
        func everyUnit(_ client: OrchestratorClient, _ view: JobView) async throws {
            if options.json {
                var all: [UnitView] = []
                try await client.forEachUnitPage(ofJob: view.jobID) { all += $0 }
                struct Output: Encodable {
                    let job: JobView
                    let units: [UnitView]
                }
                return try options.printJSON(Output(job: view, units: all))
            }
            print(JobReport.header(view, now: Int64(Date().timeIntervalSince1970 * 1000)).joined(separator: "\n"))
            var first = true
            try await client.forEachUnitPage(ofJob: view.jobID) { page in
                let table = UsageTable.render(page, why: true)
                print(first ? table : table.split(separator: "\n").dropFirst().joined(separator: "\n"))
                first = false
            }
        }
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
