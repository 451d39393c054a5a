import NIOCore
import WUCommandLine
#if canImport(Glibc)
import Glibc
#endif

/// The server's network failures as one line that names the address and what to do.
enum ServeErrorText {
    static func listening(_ error: IOError, on address: String) -> ProgramError {
        if error.errnoCode == EADDRINUSE {
            return ProgramError("cannot listen on \(address): the address is in use (another wu-orchestrator?); stop it or choose another --listen")
        }
        if error.errnoCode == EADDRNOTAVAIL {
            return ProgramError("cannot listen on \(address): no interface of this machine has that address; choose another --listen")
        }
        return ProgramError("cannot listen on \(address): \(String(cString: strerror(error.errnoCode))); choose another --listen")
    }
}
