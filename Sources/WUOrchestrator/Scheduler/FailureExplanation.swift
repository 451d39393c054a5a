import FoundationEssentials
import GRDB
import WUCore
import WUProtocol

/// Turns a failed unit's stored reasons into words a requester can act on: the limit hit, in human
/// units, and the `wu.json` key to raise (`killed at its memory limit 64M; raise resources.memory`).
///
/// Worked out when read, from the unit's own reason and its last failed attempt (the runner's reason
/// code and the usage it measured), so the job's limits are the ones it really ran with.
enum FailureExplanation {
    /// The last failed attempt of a unit: the runner's `reason: message`, its usage, and the copy's attempts.
    struct Attempt {
        let reason: String
        let usage: ResourceUsage?
        let attempts: Int
    }

    /// The last failed attempt of each of `unitIDs`, through the `assignment(unit_id, state)` index.
    static func lastAttempts(_ db: Database, units unitIDs: [Int64]) throws -> [Int64: Attempt] {
        var result: [Int64: Attempt] = [:]
        for list in SQLList.chunks(unitIDs) {
            for row in try db.rows(
                sql: """
                    SELECT a.unit_id, a.fail_reason, a.usage, c.attempts FROM assignment a JOIN copy c ON c.id = a.copy_id
                    WHERE a.id IN (SELECT MAX(id) FROM assignment WHERE unit_id IN (\(list)) AND state = 'failed' GROUP BY unit_id)
                    """
            ) {
                let usage = (row["usage"] as String?).flatMap { try? JSONDecoder().decode(ResourceUsage.self, from: Data($0.utf8)) }
                result[row["unit_id"]] = Attempt(reason: row["fail_reason"] ?? "failed", usage: usage, attempts: row["attempts"])
            }
        }
        return result
    }

    /// Why `unit` failed. `stored` is the unit's own `failure_reason`.
    static func explain(stored: String?, job: JobRecord, last: Attempt?) -> UnitFailure {
        let stored = stored ?? "failed"
        for lost in ["lease expired", "runner restarted"] where stored.hasPrefix(lost) {
            return UnitFailure(
                reason: "lost",
                message: "its runner was lost each time (\(stored)): the unit may crash or overload its runner, or the runners stop",
                attempts: last?.attempts ?? 0
            )
        }
        guard let last, !stored.hasPrefix("inconclusive") else {
            return UnitFailure(reason: stored.hasPrefix("inconclusive") ? "inconclusive" : "failed", message: stored, attempts: last?.attempts ?? 0)
        }
        let code = String(last.reason.prefix { $0 != ":" })
        let detail = last.reason.dropFirst(code.count).drop { $0 == ":" || $0 == " " }
        let usage = last.usage
        let message: String
        switch code {
        case "oom": message = "killed at its memory limit \(ByteSize.format(job.memoryBytes)); raise resources.memory"
        case "timeout": message = "killed at its wall-time limit \(DurationText.format(milliseconds: job.wallTimeMs)); raise resources.wall_time"
        case "disk-exceeded": message = "/out passed its disk limit \(ByteSize.format(job.diskBytes)); raise resources.disk"
        case "output-invalid":
            message = firstLine(String(detail)) + "; keep /out within 100,000 entries, 64 directories deep and paths of 4,096 bytes"
        case "exit-code": message = "exited with status \(usage?.exitCode.map(String.init) ?? "?")" + lastLine(usage)
        case "signal": message = "ended by signal \(usage?.signal.map(String.init) ?? "?")" + lastLine(usage)
        default: message = code + ": " + firstLine(String(detail))
        }
        return UnitFailure(reason: code, message: message, exitCode: usage?.exitCode, signal: usage?.signal, attempts: last.attempts)
    }

    /// `; stderr: <its last line>`, or nothing.
    static func lastLine(_ usage: ResourceUsage?) -> String {
        guard let line = usage?.stderrTail.split(separator: "\n").last(where: { !$0.allSatisfy(\.isWhitespace) }) else { return "" }
        return "; stderr: " + firstLine(String(line))
    }

    /// The first line of `text`, at most 200 characters: a traceback stays in `wu status --json`.
    static func firstLine(_ text: String) -> String {
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }
}
