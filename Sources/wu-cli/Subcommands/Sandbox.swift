import ArgumentParser

extension WU {
    /// `wu sandbox …`: run one command in the sandbox (benchmarks and hostile tests use it).
    struct Sandbox: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            // Explicit: deriving it from the type name costs a protocol-conformance scan at every start.
            commandName: "sandbox",
            abstract: "Run a command in the unit sandbox.",
            subcommands: [SandboxExec.self]
        )
    }
}
