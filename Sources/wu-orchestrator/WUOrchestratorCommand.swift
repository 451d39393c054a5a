import ArgumentParser
import WUCommandLine
import WUCore
import WUOrchestrator

#if canImport(Glibc)
import Glibc
#endif

struct WUOrchestratorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wu-orchestrator",
        abstract: "Hands out work units to runners and collects their results.",
        discussion: """
            Exit status: 0 ok (serve: stopped by SIGTERM or SIGINT), 1 error (the address is in use, the store \
            cannot be opened, a token or key that does not exist), 2 invalid input (a bad flag or WU_… variable).
            """,
        version: WUVersion.current,
        subcommands: [Serve.self, Token.self, Keys.self, BenchLoad.self]
    )
}

@main
enum WUOrchestratorMain {
    static func main() async {
        await CommandLineExit.main(WUOrchestratorCommand.self, program: "wu-orchestrator")
    }
}

/// `--data-dir` / `WU_DATA_DIR`, shared by every subcommand.
struct DataDirOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Where the database and blobs live (env WU_DATA_DIR; default ./wu-data).")
    var dataDir: String?

    var resolved: String { dataDir ?? Environment.string("WU_DATA_DIR") ?? "./wu-data" }

    /// The store the server uses: created when missing.
    func openOrCreate() throws -> OrchestratorStore {
        try Self.open(resolved)
    }

    /// The store of a running or stopped server, for `token` and `keys`: a mistyped `--data-dir` must
    /// not quietly make a new store the server never reads, so a missing one is refused unless `--init`.
    func openExisting(initialize: Bool) throws -> OrchestratorStore {
        let path = resolved
        if !initialize && access(path + "/wu.sqlite", F_OK) != 0 {
            throw ProgramError(
                "there is no store in \(path) (no wu.sqlite): give the server's --data-dir (or WU_DATA_DIR), or add --init to create a new one",
                status: ProgramError.Status.failure
            )
        }
        return try Self.open(path)
    }

    static func open(_ path: String) throws -> OrchestratorStore {
        do {
            return try OrchestratorStore(dataDirectory: path)
        } catch {
            throw openingFailed(path, error)
        }
    }

    /// A database error names the file and what to check, not only SQLite's words.
    static func openingFailed(_ path: String, _ error: any Error) -> any Error {
        if error is WUError { return error }
        return ProgramError("cannot open the database \(path)/wu.sqlite (\(error)): check that --data-dir is a directory this user can write")
    }
}

/// `--init`, for the commands that open an existing store.
struct InitOption: ParsableArguments {
    @Flag(name: .customLong("init"), help: "Create the store when --data-dir has none yet.")
    var initialize = false
}
