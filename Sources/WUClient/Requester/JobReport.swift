import FoundationEssentials
import WUCore
public import WUProtocol

/// The text of `wu status JOB` and the failure lines of `wu wait`: a header, counts by state, why
/// units wait, and each failed unit with its reason, exit code and what to raise.
public enum JobReport {
    /// How many failed or waiting units a report lists before pointing at `--units`.
    public static let listed = 20

    /// The units a report needs beyond the job view, each list at most ``listed`` long.
    public struct Units: Sendable {
        public var first: [UnitView]
        public var failed: [UnitView]
        public var waiting: [UnitView]

        public init(first: [UnitView], failed: [UnitView], waiting: [UnitView]) {
            self.first = first
            self.failed = failed
            self.waiting = waiting
        }

        /// Fetches the three short lists, each one page paged in SQL, whatever the job's size.
        public static func fetch(_ client: OrchestratorClient, job: String) async throws -> Units {
            async let first = client.units(ofJob: job, state: nil, limit: listed).units
            async let failed = client.units(ofJob: job, state: "failed", limit: listed).units
            async let waiting = client.units(ofJob: job, state: "pending", limit: listed).units
            return try await Units(first: first, failed: failed, waiting: waiting)
        }
    }

    public static func render(_ view: JobView, _ units: Units, now: Int64) -> String {
        var lines = header(view, now: now)
        if !view.waiting.isEmpty {
            lines.append("waiting:")
            lines += view.waiting.map { "  " + $0.line }
        }
        let failedCount = view.units["failed"] ?? units.failed.count
        if !units.failed.isEmpty {
            lines.append("failed units (\(failedCount)):")
            lines += table(
                ["UNIT", "REASON", "EXIT", "ATTEMPTS", "WHY"],
                units.failed.map { unit in
                    let failure = unit.failure
                    let why = failure?.message ?? unit.failureReason ?? "-"
                    return [name(unit), failure?.reason ?? "-", exit(failure), failure.map { String($0.attempts) } ?? "-", why]
                }
            )
            if failedCount > units.failed.count { lines.append("  … \(failedCount - units.failed.count) more: wu status \(view.jobID) --units") }
        }
        let waitingCount = view.waiting.reduce(0) { $0 + $1.count }
        if !units.waiting.isEmpty, view.waiting.count > 0 {
            lines.append("waiting units (first \(units.waiting.count) of \(waitingCount)):")
            lines += table(["UNIT", "WHY"], units.waiting.map { [name($0), $0.waitingReason ?? "-"] })
        }
        if !units.first.isEmpty {
            lines.append(UsageTable.render(units.first))
            if view.unitsTotal + (view.hasAggregate ? 1 : 0) > units.first.count {
                lines.append("first \(units.first.count) units shown; every unit: wu status \(view.jobID) --units")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `job 12 wordcount 1.0: failed` then owner, submitted, elapsed, and the counts by state.
    public static func header(_ view: JobView, now: Int64) -> [String] {
        let submitted = Date(timeIntervalSince1970: Double(view.createdAt) / 1000).formatted(.iso8601)
        let end = view.finishedAt ?? now
        let elapsed = DurationText.format(milliseconds: max(0, end - view.createdAt))
        var order = ["valid", "leased", "pending", "failed", "cancelled"]
        order += view.units.keys.filter { !order.contains($0) }.sorted()
        let counts = order.compactMap { state in view.units[state].map { "\($0) \(state)" } }
        return [
            "job \(view.jobID) \(view.name) \(view.version): \(view.state)",
            "owner \(view.owner) · submitted \(submitted) · \(view.isFinished ? "ran" : "elapsed") \(elapsed) · priority \(view.priority)"
                + " · replicas \(view.replicas), quorum \(view.quorum) · on unit failure: \(view.onUnitFailure)",
            "units: " + (counts.isEmpty ? "none" : counts.joined(separator: " · ")) + " (of \(view.unitsTotal)\(view.hasAggregate ? " + aggregate" : ""))",
        ]
    }

    /// One line per failed unit, for `wu wait`: `unit oom: killed at its memory limit 64M; raise resources.memory`.
    public static func failureLines(_ view: JobView, failed: [UnitView]) -> [String] {
        var lines = failed.map { unit in
            "unit \(name(unit)): \(unit.failure?.message ?? unit.failureReason ?? "failed")"
        }
        let total = view.units["failed"] ?? failed.count
        if total > failed.count { lines.append("… \(total - failed.count) more failed units: wu status \(view.jobID) --units") }
        return lines
    }

    static func name(_ unit: UnitView) -> String { unit.isAggregate ? "aggregate" : unit.unitID }

    static func exit(_ failure: UnitFailure?) -> String {
        if let code = failure?.exitCode { return String(code) }
        if let signal = failure?.signal { return "sig\(signal)" }
        return "-"
    }

    /// Left-aligned columns, two spaces in, the last one unpadded.
    static func table(_ titles: [String], _ rows: [[String]]) -> [String] {
        let widths = titles.indices.map { column in ([titles] + rows).map { $0[column].count }.max() ?? 0 }
        return ([titles] + rows).map { row in
            "  " + row.enumerated().map { index, text in
                index == row.count - 1 ? text : text + String(repeating: " ", count: widths[index] - text.count + 2)
            }.joined()
        }
    }
}
