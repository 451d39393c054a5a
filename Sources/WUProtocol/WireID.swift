/// The shapes a value that crossed the wire must have before anything acts on it.
///
/// Both sides check them while decoding (see `KeyedDecodingContainer.decodeID(forKey:)`): an answer or
/// a request breaking one is a decoding error, so a hostile peer's id never reaches a path, a URL or
/// a store lookup. DESIGN.md: ids are at most 64 of `[A-Za-z0-9_-]`, and no id ever becomes a path on
/// a runner.
public enum WireID {
    /// An id the orchestrator makes (assignment, job, runner): 1 to 64 of `[A-Za-z0-9_-]`.
    public static func isValid(_ text: String) -> Bool {
        let bytes = text.utf8
        return (1...64).contains(bytes.count) && bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// A unit id: the signed manifest's name for the unit, so also `.` inside it (`part.01`), never
    /// first, so it can never be `.` or `..`.
    public static func isValidUnitID(_ text: String) -> Bool {
        let bytes = text.utf8
        guard let first = bytes.first, first != UInt8(ascii: "."), first != UInt8(ascii: "-"), bytes.count <= 64 else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    /// A SHA-256 digest: 64 lower-case hex digits, nothing else (it names a blob in a URL and a cache file).
    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// A short name (profile, architecture): 1 to 64 of `[A-Za-z0-9._-]`, not starting with `.` or `-`.
    public static func isValidName(_ text: String) -> Bool { isValidUnitID(text) }

    /// What an id must look like, for error messages.
    public static let rule = "1 to 64 of A-Z, a-z, 0-9, '_' and '-'"

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
    }
}
