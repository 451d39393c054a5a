import ArgumentParser
import WUCore
import WUProtocol
import WUSandbox

extension WU {
    /// `wu run job.wu --trust KEY.pub -o OUT`: try a job locally, in the same sandbox runners use.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            // Explicit: deriving it from the type name costs a protocol-conformance scan at every start.
            commandName: "run",
            abstract: "Verify a bundle and run its units (then its aggregate) locally in the sandbox.",
            discussion: """
                Writes OUT/<unit>/out/, OUT/<unit>/usage.json and OUT/aggregate/out/ (the layout of `wu results`), \
                and prints each unit's status and usage. Exit status 1 when a unit fails.
                """
        )

        @Argument(help: "The .wu bundle.")
        var bundle: String

        @Option(help: "A trusted public key file (repeatable).")
        var trust: [String] = []

        @Option(help: "A directory of trusted *.pub keys.")
        var trustDir: String?

        @Option(help: "Run only this unit (repeatable); the aggregate is skipped.")
        var unit: [String] = []

        @Option(help: "Use this sandbox profile instead of the manifest's.")
        var profile: String?

        @Option(help: "Directory whose <name>.json overrides the built-in profiles.")
        var profileDir: String?

        @Option(name: [.customShort("o"), .long], help: "Output directory.")
        var output: String

        @Flag(help: "Run without cgroup limits (when this host cannot apply them).")
        var noLimits = false

        func validate() throws {
            if trust.isEmpty && trustDir == nil {
                throw ValidationError("give --trust KEY.pub (or --trust-dir DIR): wu runs only signed code it trusts")
            }
        }

        func run() async throws {
            let options = LocalJob.Options(
                bundle: bundle,
                trustedKeys: trust,
                trustDirectory: trustDir,
                units: unit.isEmpty ? nil : unit,
                profile: profile,
                profileDirectory: profileDir,
                outputDirectory: output,
                noLimits: noLimits
            )
            print(Row.header)
            let reports = try await LocalJob.run(options) { report in print(Row(report).text) }
            for r in reports {
                if let error = r.error { print("\(r.id): \(error)") }
                if let tail = r.usage?.stderrTail, !r.succeeded, !tail.isEmpty {
                    print("\(r.id) stderr (tail):\n" + String(tail.suffix(2000)))
                }
            }
            let shown = output.hasSuffix("/") && output.count > 1 ? String(output.dropLast()) : output  // not `out//<unit>`
            print("\noutputs in \(shown)/<unit>/out, usage in \(shown)/<unit>/usage.json")
            if !reports.allSatisfy(\.succeeded) { throw ExitCode(1) }
        }

        struct Row {
            static let header = pad(["unit", "status", "wall", "cpu", "peak mem", "pids", "output", "digest", "denied syscalls"])
            let text: String

            init(_ r: LocalJob.UnitReport) {
                let u = r.usage
                text = Row.pad([
                    r.id, r.status,
                    u.map { DurationText.format(milliseconds: $0.wallMs) } ?? "-",
                    u.map { DurationText.format(milliseconds: $0.cpuUserMs + $0.cpuSystemMs) } ?? "-",
                    u.map { ByteSize.format($0.peakMemoryBytes) } ?? "-",
                    u?.peakPids.map(String.init) ?? "-",
                    u.map { ByteSize.format($0.outputBytes) } ?? "-",
                    r.outputDigest.map { String($0.prefix(12)) } ?? "-",
                    u.map { $0.deniedSummary.isEmpty ? "-" : $0.deniedSummary } ?? "-",
                ])
            }

            static func pad(_ cells: [String]) -> String {
                let widths = [14, 11, 8, 8, 10, 5, 10, 12, 0]
                return zip(cells, widths).map { c, w in c.count >= w ? c + " " : c + String(repeating: " ", count: w - c.count) }.joined(
                    separator: " "
                )
            }
        }
    }
}
