import ArgumentParser
import WUProtocol
import WUClient
import WURunner

extension WU {
    struct Leaderboard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show volunteers (runner tokens) ranked by reputation (valid +1, invalid -5).")

        @OptionGroup var options: OrchestratorOptions

        func run() async throws {
            let board = try await options.client().leaderboard()
            if options.json { return try options.printJSON(board) }
            print("RANK  VOLUNTEER       REPUTATION  VALID  INVALID  STREAK")
            for entry in board.runners {
                print("\(String(entry.rank).padded(5)) \(entry.name.padded(15)) \(String(entry.reputation).padded(11)) \(String(entry.valid).padded(6)) \(String(entry.invalid).padded(8)) \(entry.consecutiveValid)")
            }
        }
    }
}
