import WUProtocol

/// How one assignment ended on this runner, before it is reported.
enum AssignmentOutcome: Sendable {
    /// `archive` is the compressed output, still to upload as blob `blobDigest`.
    case completed(outputDigest: String, blobDigest: String, archive: String, usage: ResourceUsage)
    case failed(reason: String, message: String, usage: ResourceUsage?)

    /// The fail reason for an output that breaks DESIGN.md's output bounds (too many entries, too deep,
    /// a path too long) or that the orchestrator refused (`422 output-invalid`): not a disk problem.
    static let outputInvalid = "output-invalid"

    /// The fail reason for a unit that ran but did not succeed.
    static func reason(for usage: ResourceUsage) -> (String, String) {
        let tail = usage.stderrTail.split(separator: "\n").suffix(5).joined(separator: "\n")
        let detail = tail.isEmpty ? "" : "; stderr: \(tail)"
        if usage.oomKilled { return ("oom", "killed at the memory limit\(detail)") }
        if usage.timedOut { return ("timeout", "killed at the wall-time limit after \(usage.wallMs) ms\(detail)") }
        if usage.diskExceeded { return ("disk-exceeded", "/out passed the disk limit\(detail)") }
        if let signal = usage.signal { return ("signal", "ended by signal \(signal)\(detail)") }
        return ("exit-code", "exited with status \(usage.exitCode ?? -1)\(detail)")
    }
}
