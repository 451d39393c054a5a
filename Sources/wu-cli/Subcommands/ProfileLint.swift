import ArgumentParser
import WUSandbox

extension WU {
    /// `wu profile lint FILE…`.
    struct ProfileLint: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lint",
            abstract: "Report what in each profile file widens the sandbox, by severity (high, medium, low).",
            discussion: "Exit status: 0 when no file has a high finding, 1 otherwise."
        )

        @Argument(help: "Profile files (JSON).")
        var files: [String]

        @Flag(help: "Print the findings as JSON.")
        var json = false

        func validate() throws {
            if files.isEmpty { throw ValidationError("give at least one profile file") }
        }

        func run() throws {
            struct FileFindings: Encodable {
                let file: String
                let findings: [WUSandbox.ProfileLint.Finding]
            }
            var all: [FileFindings] = []
            for file in files {
                let findings = WUSandbox.ProfileLint.lint(file: file)
                all.append(FileFindings(file: file, findings: findings))
            }
            if json {
                print(try ProfileJSON.text(all))
            } else {
                for f in all {
                    if f.findings.isEmpty { print("\(f.file): no findings") }
                    for finding in f.findings { print("\(f.file): \(finding)") }
                }
                let counts = { (s: WUSandbox.ProfileLint.Finding.Severity) in all.reduce(0) { $0 + $1.findings.filter { $0.severity == s }.count } }
                print("\(all.count) file\(all.count == 1 ? "" : "s"): \(counts(.high)) high, \(counts(.medium)) medium, \(counts(.low)) low")
            }
            if all.contains(where: { $0.findings.contains { $0.severity == .high } }) { throw ExitCode(1) }
        }

    }
}
