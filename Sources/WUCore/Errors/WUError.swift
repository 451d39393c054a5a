#if canImport(Glibc)
import Glibc
#endif

/// The one error type of WUCore: a stable code, a message that says what was wrong and what to do,
/// and an optional underlying cause.
///
/// New codes never break callers: `Code` is a struct, not an enum (STYLE.md §4).
public struct WUError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case invalidJobSpec = "invalid-job-spec"
            case invalidManifest = "invalid-manifest"
            case invalidKey = "invalid-key"
            case untrustedKey = "untrusted-key"
            case badSignature = "bad-signature"
            case tamperedFile = "tampered-file"
            case unlistedEntry = "unlisted-entry"
            case missingEntry = "missing-entry"
            case duplicateEntry = "duplicate-entry"
            case entryOrder = "entry-order"
            case unsafeEntry = "unsafe-entry"
            case limitExceeded = "limit-exceeded"
            case corruptArchive = "corrupt-archive"
            case invalidArgument = "invalid-argument"
            case io = "io"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// `wu.json` is missing a field, has an unknown one, or a value is out of range.
        public static let invalidJobSpec = Code(.invalidJobSpec)
        /// `WU-MANIFEST.json` cannot be read or breaks a rule (bad path, duplicate file, …).
        public static let invalidManifest = Code(.invalidManifest)
        /// A key file is malformed, or would be overwritten.
        public static let invalidKey = Code(.invalidKey)
        /// The bundle is signed by a key that is not trusted.
        public static let untrustedKey = Code(.untrustedKey)
        /// The signature does not match the manifest bytes.
        public static let badSignature = Code(.badSignature)
        /// A payload file's digest or size differs from the manifest.
        public static let tamperedFile = Code(.tamperedFile)
        /// The archive holds an entry that the manifest does not list.
        public static let unlistedEntry = Code(.unlistedEntry)
        /// The manifest lists a file that the archive does not hold.
        public static let missingEntry = Code(.missingEntry)
        /// The archive holds the same path twice.
        public static let duplicateEntry = Code(.duplicateEntry)
        /// Entries are not in the order the format requires.
        public static let entryOrder = Code(.entryOrder)
        /// An entry is a link, device, FIFO, setuid file or has an unsafe path.
        public static let unsafeEntry = Code(.unsafeEntry)
        /// A size, count or compression-ratio limit was passed.
        public static let limitExceeded = Code(.limitExceeded)
        /// The archive itself cannot be read (truncated, not a tar, bad compression).
        public static let corruptArchive = Code(.corruptArchive)
        /// A value given by the caller is malformed (a size like `256M`, a duration like `60s`).
        public static let invalidArgument = Code(.invalidArgument)
        /// A file system call failed.
        public static let io = Code(.io)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    public let cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }

    /// The process exit status the CLI uses for this error (documented in README.md).
    public var exitCode: Int32 {
        switch code {
        case .invalidJobSpec, .invalidArgument: 2
        case .untrustedKey, .badSignature: 3
        case .tamperedFile, .unlistedEntry, .missingEntry, .duplicateEntry, .entryOrder, .unsafeEntry, .limitExceeded,
            .corruptArchive, .invalidManifest:
            4
        default: 1
        }
    }
}

/// A failed system call: the step that failed and its `errno`.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let path: String?
    public let errno: Int32

    public init(_ operation: String, path: String? = nil, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        if let path { return "\(operation) \(path): \(reason) (errno \(errno))" }
        return "\(operation): \(reason) (errno \(errno))"
    }
}
