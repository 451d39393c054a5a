import ArgumentParser

extension WU {
    /// `wu sandbox …`: run one command in the sandbox (benchmarks and hostile tests use it).
    struct Sandbox: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command in the unit sandbox.",
            subcommands: [SandboxExec.self]
        )
    }
}
