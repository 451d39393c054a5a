import CSeccomp

/// Syscall names as libseccomp knows them, for the host's native architecture.
///
/// Only name resolution: the filter itself is built in WUSandbox (which resolves its rules' names
/// here too). The orchestrator, which never links the sandbox, validates a requester's profile
/// through this.
package enum SyscallNames {
    /// The syscall's number (a negative pseudo number for one this architecture lacks), or nil
    /// when libseccomp does not know the name (`seccomp_syscall_resolve_name` returns
    /// `__NR_SCMP_ERROR`, -1).
    package static func number(_ name: String) -> Int32? {
        guard !name.isEmpty, name.utf8.count <= 64, !name.utf8.contains(0) else { return nil }
        let n = seccomp_syscall_resolve_name(name)
        return n == -1 ? nil : n
    }
}
