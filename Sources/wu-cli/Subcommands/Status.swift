import ArgumentParser
import WUCore
import WUProtocol
import WURunner

extension WU {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one job with its units and their usage, or every job you can see.")

        @Argument(help: "A job id; without it, every job.")
        var job: String?

        @OptionGroup var options: OrchestratorOptions

        func run() async throws {
            let client = try options.client()
            guard let job else {
                let list = try await client.jobs()
                if options.json { return try options.printJSON(list) }
                if list.jobs.isEmpty { return print("no jobs") }
                print("JOB        NAME              STATE        UNITS  PROGRESS")
                for view in list.jobs {
                    print("\(view.jobID.padded(10)) \(view.name.padded(17)) \(view.state.padded(12)) \(String(view.unitsTotal).padded(6)) \(Int(view.progress * 100))%")
                }
                return
            }
            let view = try await client.job(job)
            let units = try await client.units(ofJob: job)
            if options.json {
                struct Output: Encodable {
                    let job: JobView
                    let units: [UnitView]
                }
                return try options.printJSON(Output(job: view, units: units.units))
            }
            print(JobWatcher.describe(view, elapsed: .zero))
            if !view.failureReasons.isEmpty { print("failures: " + view.failureReasons.joined(separator: "; ")) }
            print(UsageTable.render(units.units))
        }
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
