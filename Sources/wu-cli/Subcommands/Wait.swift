import ArgumentParser
import WUCommandLine
import WUCore
import WUProtocol
import WUClient
import WURunner
#if canImport(Glibc)
import Glibc
#endif

extension WU {
    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait for a job to finish, with a progress bar and why units wait; exit 0 when it completed, 1 when it failed or was cancelled.",
            discussion: "When the job failed, prints one line per failed unit (the first 20): the unit, the reason, the limit hit and the wu.json key to raise.")

        @Argument(help: "The job id.")
        var job: String

        @Option(help: "Give up after this many seconds (exit 5; the job goes on).")
        var timeout: Int?

        @OptionGroup var options: OrchestratorOptions

        func run() async throws {
            let terminal = isatty(1) == 1 && !options.json
            let client = try options.client()
            let view = try await Self.timingOut(job) { try await JobWatcher(client: client).wait(for: job, timeoutSeconds: timeout) { line, replacing in
                if options.json { return }
                if terminal {
                    // Redraw in place: carriage return, clear the line; written directly so it is not buffered.
                    let bytes = Array(("\r\u{1B}[2K" + line).utf8)
                    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                } else {
                    print(line)
                }
            } }
            if terminal { print() }
            if options.json { try options.printJSON(view) }
            guard view.state == "completed" else {
                try await explain(view, client)
                throw ExitCode(1)
            }
        }

        /// `--timeout` passing is its own status (5), not a tampered bundle's (4): the job goes on.
        static func timingOut(_ job: String, _ body: () async throws -> JobView) async throws -> JobView {
            do {
                return try await body()
            } catch let error as WUError where error.code == .limitExceeded {
                throw ProgramError("\(error.message); it goes on: run `wu wait \(job)` again", status: ProgramError.Status.timedOut)
            }
        }

        /// Why the job did not complete: one line per failed unit, or the job's own reason.
        func explain(_ view: JobView, _ client: OrchestratorClient) async throws {
            let failed = try await client.units(ofJob: job, state: "failed", limit: JobReport.listed).units
            let lines = JobReport.failureLines(view, failed: failed)
            let own = view.failureReasons.first.flatMap { $0.split(separator: "\n").first.map(String.init) }
            FileHandleLine.standardError("job \(job) \(view.state)" + (lines.isEmpty ? own.map { ": " + $0 } ?? "" : ":"))
            for line in lines { FileHandleLine.standardError(line) }
        }
    }
}
