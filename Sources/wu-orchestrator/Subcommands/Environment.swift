import WUCore

/// Reads the `WU_*` environment variables that back command-line flags.
enum Environment {
    static func string(_ name: String) -> String? { ProcessEnvironment.value(name) }

    static func int(_ name: String) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text), value > 0 else { throw ValidationErrorText("\(name) must be a positive integer, not '\(text)'") }
        return value
    }
}

struct ValidationErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
