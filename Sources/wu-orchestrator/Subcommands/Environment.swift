import WUCommandLine
import WUCore

/// Reads the `WU_*` text variables that back command-line flags; numbers go through
/// `ProcessEnvironment.number`, which refuses a value that does not parse.
enum Environment {
    static func string(_ name: String) -> String? { ProcessEnvironment.value(name) }

    static func invalid(_ message: String) -> ProgramError { ProgramError(message, status: ProgramError.Status.invalidInput) }
}
