#if canImport(Glibc)
import Glibc
#endif

/// Facts about this machine a runner registers with.
public enum HostInfo {
    /// `uname -m`: `x86_64`, `aarch64`, …
    public static func architecture() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// NVIDIA GPUs present: `/dev/nvidia0`, `/dev/nvidia1`, … (the driver's device nodes).
    public static func gpuCount() -> Int {
        var count = 0
        while access("/dev/nvidia\(count)", F_OK) == 0 { count += 1 }
        return count
    }

    /// The host name, for a runner's default name.
    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
