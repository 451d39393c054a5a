import ArgumentParser
import WUCommandLine
import WUCore
import WUProtocol
import WURunner
#if canImport(Glibc)
import Glibc
#endif

extension WU {
    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait for a job to finish, with a progress bar; exit 0 when it completed, 1 when it failed or was cancelled.")

        @Argument(help: "The job id.")
        var job: String

        @Option(help: "Give up after this many seconds (exit 5; the job goes on).")
        var timeout: Int?

        @OptionGroup var options: OrchestratorOptions

        func run() async throws {
            let terminal = isatty(1) == 1 && !options.json
            let view = try await Self.timingOut(job) { try await JobWatcher(client: options.client()).wait(for: job, timeoutSeconds: timeout) { line, replacing in
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
                if !view.failureReasons.isEmpty { FileHandleLine.standardError("job \(job) \(view.state): " + view.failureReasons.joined(separator: "; ")) }
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
    }
}
