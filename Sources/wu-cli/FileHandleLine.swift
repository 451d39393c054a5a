#if canImport(Glibc)
import Glibc
#endif

/// One line to standard error.
enum FileHandleLine {
    static func standardError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
