import WUCore
public import WUProtocol

/// A text table of units and the usage of their copies, for `wu status` and `make demo`.
public enum UsageTable {
    public static func render(_ units: [UnitView]) -> String {
        var lines = ["UNIT         STATE     RUNNER        COPY      EXIT  WALL      CPU       PEAK MEM  OUTPUT    DENIED SYSCALLS"]
        for unit in units {
            for copy in unit.copies {
                let usage = copy.usage
                let exit = usage.map { $0.exitCode.map(String.init) ?? "sig\($0.signal ?? 0)" } ?? "-"
                let wall = usage.map { DurationText.format(milliseconds: $0.wallMs) } ?? "-"
                let cpu = usage.map { DurationText.format(milliseconds: $0.cpuUserMs + $0.cpuSystemMs) } ?? "-"
                let memory = usage.map { ByteSize.format($0.peakMemoryBytes) } ?? "-"
                let output = usage.map { ByteSize.format($0.outputBytes) } ?? "-"
                let denied = usage.map { $0.deniedSummary.isEmpty ? "-" : $0.deniedSummary } ?? "-"
                let columns = [
                    (unit.unitID, 12), (unit.state, 9), (copy.runnerName ?? "-", 13), (copy.state, 9), (exit, 5), (wall, 9), (cpu, 9), (memory, 9), (output, 9), (denied, 0),
                ]
                let row = columns.map { text, width in text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count + 1) }.joined()
                lines.append(String(row.dropLast()))
            }
        }
        return lines.joined(separator: "\n")
    }
}
