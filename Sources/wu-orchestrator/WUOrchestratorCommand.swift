import ArgumentParser

@main
struct WUOrchestratorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wu-orchestrator",
        abstract: "Hands out work units to runners and collects their results.",
        subcommands: [Serve.self, Token.self, Keys.self, BenchLoad.self]
    )
}

/// `--data-dir` / `WU_DATA_DIR`, shared by every subcommand.
struct DataDirOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Where the database and blobs live (env WU_DATA_DIR; default ./wu-data).")
    var dataDir: String?

    var resolved: String { dataDir ?? Environment.string("WU_DATA_DIR") ?? "./wu-data" }
}
