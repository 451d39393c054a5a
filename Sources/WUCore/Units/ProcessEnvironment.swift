#if canImport(Glibc)
import Glibc
#endif

/// The `WU_*` variables that back command-line flags in all three programs: the flag wins, then
/// the variable, then the program's default. A variable that is set but does not parse is invalid
/// input (exit 2), never silently "unset": `WU_PIDS=abc` must not mean "no pid cap".
public enum ProcessEnvironment {
    /// The variable's value, or nil when it is unset or empty.
    public static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let text = String(cString: raw)
        return text.isEmpty ? nil : text
    }

    /// `flag ?? $name ?? fallback` for a number, at least `minimum` when one is given.
    public static func number<T: LosslessStringConvertible & Comparable>(
        _ flag: T?, _ name: String, option: String, default fallback: T? = nil, minimum: T? = nil
    ) throws(WUError) -> T? {
        let value: T?
        if let flag {
            value = flag
        } else if let text = Self.value(name) {
            guard let parsed = T(text) else { throw WUError(.invalidArgument, "\(name) must be a number, not '\(text)'") }
            value = parsed
        } else {
            value = fallback
        }
        if let value, let minimum, value < minimum {
            throw WUError(.invalidArgument, "--\(option) (or \(name)) must be at least \(minimum), not \(value)")
        }
        return value
    }

    /// `flag ?? $name ?? fallback` for a number that always has a value.
    public static func number<T: LosslessStringConvertible & Comparable>(
        _ flag: T?, _ name: String, option: String, default fallback: T, minimum: T? = nil
    ) throws(WUError) -> T {
        try number(flag, name, option: option, default: Optional(fallback), minimum: minimum) ?? fallback
    }
}
