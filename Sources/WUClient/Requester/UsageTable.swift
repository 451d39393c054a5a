import WUCore
public import WUProtocol

/// A text table of units and the usage of their copies, for `wu status` and `make demo`.
public enum UsageTable {
    /// - Parameter why: Adds a column with why a failed unit failed or a waiting one waits.
    public static func render(_ units: [UnitView], why: Bool = false) -> String {
        var title = "UNIT         STATE     RUNNER        COPY      EXIT  WALL      CPU       PEAK MEM  OUTPUT    DENIED SYSCALLS"
        if why { title += "  WHY" }
        var lines = [title]
        for unit in units {
            for (index, copy) in unit.copies.enumerated() {
                let usage = copy.usage
                let exit = usage.map { $0.exitCode.map(String.init) ?? "sig\($0.signal ?? 0)" } ?? "-"
                let wall = usage.map { DurationText.format(milliseconds: $0.wallMs) } ?? "-"
                let cpu = usage.map { DurationText.format(milliseconds: $0.cpuUserMs + $0.cpuSystemMs) } ?? "-"
                let memory = usage.map { ByteSize.format($0.peakMemoryBytes) } ?? "-"
                let output = usage.map { ByteSize.format($0.outputBytes) } ?? "-"
                let denied = usage.map { $0.deniedSummary.isEmpty ? "-" : $0.deniedSummary } ?? "-"
                var columns = [
                    (unit.unitID, 12), (unit.state, 9), (copy.runnerName ?? "-", 13), (copy.state, 9), (exit, 5), (wall, 9), (cpu, 9), (memory, 9), (output, 9),
                    (denied, why ? 15 : 0),
                ]
                if why { columns.append((index == 0 ? unit.failure?.message ?? unit.waitingReason ?? "" : "", 0)) }
                let row = columns.map { text, width in text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count + 1) }.joined()
                lines.append(String(row.dropLast()))
            }
        }
        return lines.joined(separator: "\n")
    }
}
