import Glibc

/// The one error type of WUProfiles and WUSandbox (which re-exports this module): a stable code, a
/// message that says what was wrong, and for a failed syscall the stage of the setup and its errno
/// (STYLE.md §4). It lives here so that profile parsing, which the orchestrator also uses, keeps
/// throwing the type it always threw.
public struct SandboxError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case unknownProfile = "unknown-profile"
            case invalidProfile = "invalid-profile"
            case invalidLimits = "invalid-limits"
            case unsupported = "unsupported"
            case cgroup = "cgroup"
            case spawn = "spawn"
            case io = "io"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// No built-in profile and no file in `--profile-dir` has that name.
        public static let unknownProfile = Code(.unknownProfile)
        /// A profile is malformed: unknown key, unknown syscall name, bad value.
        public static let invalidProfile = Code(.invalidProfile)
        /// A requested limit is malformed or above what the profile allows.
        public static let invalidLimits = Code(.invalidLimits)
        /// This host cannot enforce what was asked (no user namespaces, no cgroup controller, not root).
        public static let unsupported = Code(.unsupported)
        /// A cgroup could not be created, limited, joined or removed.
        public static let cgroup = Code(.cgroup)
        /// The sandboxed process could not be started; `stage` and `errno` say where and why.
        public static let spawn = Code(.spawn)
        /// A file system call failed.
        public static let io = Code(.io)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    /// The setup step that failed (CSandbox stage name), for spawn errors.
    public let stage: String?
    /// The errno of the failed syscall, if one failed.
    public let errno: Int32?

    public init(_ code: Code, _ message: String, stage: String? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.stage = stage
        self.errno = errno
    }

    public var description: String {
        var text = message
        if let stage { text += " [stage: \(stage)]" }
        if let errno { text += " [errno \(errno): \(SandboxError.errnoText(errno))]" }
        return text
    }

    package static func errnoText(_ code: Int32) -> String {
        guard let cString = strerror(code) else { return "unknown" }
        return String(cString: cString)
    }
}
