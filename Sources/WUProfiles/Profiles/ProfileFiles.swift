import WUCore

#if canImport(Glibc)
import Glibc
#endif

/// The two file reads profile loading needs, without the sandbox's file helpers.
enum ProfileFiles {
    /// The file's bytes, or nil when it cannot be read or is larger than `limit`.
    static func read(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
        try? FileIO.readFile(path, limit: limit)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}
