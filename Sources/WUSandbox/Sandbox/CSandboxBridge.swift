import CSandbox

/// Thin Swift calls over CSandbox that do not belong to one type.
enum CSandboxBridge {
    /// The syscall number of `name` on this architecture (negative for a syscall the
    /// architecture lacks), or nil when libseccomp does not know the name at all.
    static func syscallNumber(_ name: String) -> Int32? {
        let n = wu_seccomp_resolve(name)
        return n == -1 ? nil : n
    }

    static func stageName(_ stage: Int32) -> String {
        String(cString: wu_sandbox_stage_name(stage))
    }
}
