#if canImport(Glibc)
import Glibc
#endif

/// The `WU_*` variables that back command-line flags in all three programs.
public enum ProcessEnvironment {
    /// The variable's value, or nil when it is unset or empty.
    public static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let text = String(cString: raw)
        return text.isEmpty ? nil : text
    }
}
