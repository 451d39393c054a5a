public import WUProtocol
import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// `wu wait`: follows a job until it finishes, drawing a progress bar on a terminal and one plain line
/// per change otherwise.
public struct JobWatcher: Sendable {
    public let client: OrchestratorClient
    public let pollInterval: Duration

    public init(client: OrchestratorClient, pollInterval: Duration = .milliseconds(500)) {
        self.client = client
        self.pollInterval = pollInterval
    }

    /// Waits for `jobID` to finish and returns its last view.
    /// - Parameter render: receives each line to print; `replacing` is true when it redraws the previous one.
    public func wait(for jobID: String, timeoutSeconds: Int? = nil, render: (String, _ replacing: Bool) -> Void) async throws -> JobView {
        let started = ContinuousClock.now
        var lastLine = ""
        var failures = 0
        while true {
            let view: JobView
            do {
                view = try await client.job(jobID)
                failures = 0
            } catch let error as ClientError where error.isTransient && failures < 60 {
                failures += 1
                try await Task.sleep(for: .seconds(1))
                continue
            }
            let line = Self.describe(view, elapsed: ContinuousClock.now - started)
            if line != lastLine {
                render(line, !lastLine.isEmpty)
                lastLine = line
            }
            if view.isFinished { return view }
            if let timeoutSeconds, ContinuousClock.now - started > .seconds(timeoutSeconds) {
                throw WUError(.limitExceeded, "job \(jobID) did not finish within \(timeoutSeconds) s (it is \(view.state))")
            }
            try await Task.sleep(for: pollInterval)
        }
    }

    /// `[########------] 5/8 valid · 1 failed · running · 3 units wait: no runner allows profile 'stirct' · ETA 12s`
    public static func describe(_ view: JobView, elapsed: Duration) -> String {
        let valid = view.units["valid"] ?? 0
        let failed = view.units["failed"] ?? 0
        let width = 24
        let filled = Int((Double(width) * min(1, view.progress)).rounded())
        var line = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
        line += "\(valid)/\(view.unitsTotal) valid"
        if failed > 0 { line += " · \(failed) failed" }
        line += " · \(view.state)"
        // Waiting in line for a runner is normal; anything else is worth saying while it lasts.
        if let reason = view.waiting.first(where: { ![WaitingReason.Code.queued, WaitingReason.Code.busy].contains($0.code) }) {
            line += " · " + reason.line
        }
        let seconds = Double(elapsed.components.seconds)
        if !view.isFinished, view.progress > 0.02, seconds > 1 {
            // Whole seconds only; under one second to go there is nothing worth estimating.
            let eta = (seconds * (1 - view.progress) / view.progress).rounded()
            if eta >= 1 { line += " · ETA \(DurationText.format(milliseconds: Int64(eta) * 1000))" }
        }
        return line
    }
}
