public import ArgumentParser
import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// How `wu`, `wu-orchestrator` and `wu-runner` end: on any error, exactly one `PROGRAM: error: …`
/// line on standard error and one of the statuses below (README.md lists them per program).
public enum CommandLineExit {
    /// Parses the arguments, runs the command and exits; never returns.
    ///
    /// - Parameters:
    ///   - program: the name the error line starts with (`wu`, `wu-orchestrator`, `wu-runner`).
    ///   - explain: turns the program's own error types (HTTP, database, network) into a `ProgramError`;
    ///     nil leaves the error to the common rules.
    public static func main<Command: AsyncParsableCommand>(
        _ command: Command.Type, program: String, arguments: [String]? = nil, explain: (any Error) -> ProgramError? = { _ in nil }
    ) async -> Never {
        do {
            var parsed = try Command.parseAsRoot(arguments)
            if var asyncCommand = parsed as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try parsed.run()
            }
            exit(ProgramError.Status.success)
        } catch {
            fail(Command.self, program: program, error: error, explain: explain)
        }
    }

    /// Reports `error` the one documented way and exits.
    public static func fail<Command: ParsableCommand>(
        _ command: Command.Type, program: String, error: any Error, explain: (any Error) -> ProgramError? = { _ in nil }
    ) -> Never {
        if let code = error as? ExitCode { exit(code.rawValue) }  // the command has said what went wrong
        let reported = explain(error) ?? common(Command.self, error)
        guard let reported else { Command.exit(withError: error) }  // --help and --version: printed, status 0
        writeLine("\(program): error: \(reported.message)")
        exit(reported.status)
    }

    /// The rules every program shares: `WUError` keeps its status, argument errors are invalid input.
    static func common<Command: ParsableCommand>(_ command: Command.Type, _ error: any Error) -> ProgramError? {
        if let error = error as? ProgramError { return error }
        if let error = error as? WUError { return ProgramError(error.description, status: error.exitCode) }
        if error is SystemCallError { return ProgramError("\(error)", status: ProgramError.Status.failure) }
        switch Command.exitCode(for: error) {
        case .success: return nil
        case .validationFailure:
            return ProgramError(Command.message(for: error) + helpHint(Command.fullMessage(for: error)), status: ProgramError.Status.invalidInput)
        default: return ProgramError("\(error)", status: ProgramError.Status.failure)
        }
    }

    /// ` (see \`wu pack --help\`)`, from the usage ArgumentParser would have printed.
    static func helpHint(_ usage: String) -> String {
        guard let start = usage.firstRange(of: "See '"), let end = usage[start.upperBound...].firstRange(of: "'") else { return "" }
        return " (see `\(usage[start.upperBound..<end.lowerBound])`)"
    }

    /// One line to standard error, unbuffered.
    public static func writeLine(_ line: String) {
        let bytes = Array((line.replacing("\n", with: " ") + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

/// An error as a program reports it: the one line after `PROGRAM: error: ` and the exit status.
public struct ProgramError: Error, Sendable, CustomStringConvertible {
    /// The statuses README.md documents; every program uses the same numbers for the same meaning.
    public enum Status {
        public static let success: Int32 = 0
        /// An error not listed below: a file that cannot be read, an orchestrator that cannot be reached.
        public static let failure: Int32 = 1
        /// Invalid input: a bad flag or environment variable, `wu.json`, a size or duration.
        public static let invalidInput: Int32 = 2
        /// Refused: an untrusted key, a bad signature, a token the orchestrator does not accept.
        public static let refused: Int32 = 3
        /// A tampered or unsafe bundle.
        public static let tampered: Int32 = 4
        /// `wu wait --timeout` gave up; the job goes on.
        public static let timedOut: Int32 = 5
    }

    public let message: String
    public let status: Int32

    public init(_ message: String, status: Int32 = Status.failure) {
        self.message = message
        self.status = status
    }

    public var description: String { message }
}
