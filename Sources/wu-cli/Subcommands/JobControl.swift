import ArgumentParser
import WUProtocol
import WUClient
import WURunner

extension WU {
    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a job: running units are aborted, nothing more is handed out.")
        @Argument(help: "The job id.") var job: String
        @OptionGroup var options: OrchestratorOptions
        func run() async throws { try await JobControl.apply("cancel", job: job, options: options) }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a job: running units finish, nothing more is handed out until resume.")
        @Argument(help: "The job id.") var job: String
        @OptionGroup var options: OrchestratorOptions
        func run() async throws { try await JobControl.apply("pause", job: job, options: options) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused job.")
        @Argument(help: "The job id.") var job: String
        @OptionGroup var options: OrchestratorOptions
        func run() async throws { try await JobControl.apply("resume", job: job, options: options) }
    }
}

enum JobControl {
    static func apply(_ action: String, job: String, options: OrchestratorOptions) async throws {
        let view = try await options.client().control(job: job, action: action)
        if options.json { return try options.printJSON(view) }
        print("job \(view.jobID) is now \(view.state)")
    }
}
