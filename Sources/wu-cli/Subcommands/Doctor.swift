import ArgumentParser
import WUSandbox

extension WU {
    /// `wu doctor`: what this machine can enforce.
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            // Explicit: deriving it from the type name costs a protocol-conformance scan at every start.
            commandName: "doctor",
            abstract: "Say what this machine can enforce: user namespaces, cgroups, seccomp, and whether `wu run` works here."
        )

        func run() async throws {
            let report = await SandboxDoctor.run()
            let width = report.checks.map(\.name.count).max() ?? 10
            for check in report.checks {
                let pad = String(repeating: " ", count: width - check.name.count)
                print("\(check.ok ? "ok  " : "FAIL") \(check.name)\(pad)  \(check.detail)")
            }
            if report.canRun {
                print("\nwu run works here, with every limit enforced.")
            } else if report.canRunWithoutLimits {
                print("\nwu run works here only with --no-limits: resource limits cannot be enforced (see above).")
                throw ExitCode(1)
            } else {
                print("\nwu run cannot work here: the sandbox cannot start (see above).")
                throw ExitCode(1)
            }
        }
    }
}
