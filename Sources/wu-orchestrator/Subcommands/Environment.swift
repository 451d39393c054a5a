import WUCommandLine
import WUCore

/// Reads the `WU_*` environment variables that back command-line flags: the flag wins, then the
/// variable, then the default.
enum Environment {
    static func string(_ name: String) -> String? { ProcessEnvironment.value(name) }

    /// `flag ?? $name ?? fallback`, at least `minimum`.
    static func int(_ flag: Int?, _ name: String, option: String, default fallback: Int, minimum: Int = 1) throws -> Int {
        let value: Int
        if let flag {
            value = flag
        } else if let text = string(name) {
            guard let parsed = Int(text) else { throw invalid("\(name) must be a whole number, not '\(text)'") }
            value = parsed
        } else {
            value = fallback
        }
        guard value >= minimum else { throw invalid("--\(option) (or \(name)) must be at least \(minimum), not \(value)") }
        return value
    }

    static func invalid(_ message: String) -> ProgramError { ProgramError(message, status: ProgramError.Status.invalidInput) }
}
