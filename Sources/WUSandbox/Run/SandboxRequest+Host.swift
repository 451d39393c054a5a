import Glibc

/// The request's host side, checked and prepared before its unit's sandbox is set up.
extension SandboxRequest {
    /// The descriptor that becomes the unit's stdin (-1: /dev/null), after checking the host paths
    /// it names: never a terminal (the unit would hold the volunteer's tty), and an existing `/out`.
    func checkedStandardInput() throws(SandboxError) -> Int32 {
        var stdinFD: Int32 = -1
        if let fd = stdinDescriptor {
            guard isatty(fd) == 0 else { throw SandboxError(.invalidLimits, "refusing to give the unit a terminal as its standard input") }
            stdinFD = fd
        }
        if let out = outputDirectory, !FileSystem.isDirectory(out) {
            throw SandboxError(.io, "output directory \(out) does not exist")
        }
        return stdinFD
    }

    /// Gives the unit's writable host paths (`/out`, the progress file, made if missing) to its
    /// host uid.
    func giveWritablePaths(to identity: UnitIdentity) throws(SandboxError) {
        if let out = outputDirectory, !identity.rootless, chown(out, identity.hostUID, identity.hostGID) != 0 {
            throw SandboxError(.io, "chown \(out)", errno: errno)
        }
        if let progress = progressFile {
            if !FileSystem.exists(progress) {
                let fd = open(progress, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
                if fd >= 0 { close(fd) }
            }
            if !identity.rootless, chown(progress, identity.hostUID, identity.hostGID) != 0 {
                throw SandboxError(.io, "chown \(progress)", errno: errno)
            }
        }
    }
}
