#if canImport(Glibc)
import Glibc
#endif

/// Architecture names: wu's `resources.arch` is `uname -m`'s (`x86_64`), OCI's is Go's (`amd64`).
enum Platform {
    /// `uname -m` → OCI `architecture` (and `variant`, for 32-bit ARM).
    static let ociByMachine: [String: (architecture: String, variant: String?)] = [
        "x86_64": ("amd64", nil), "aarch64": ("arm64", nil), "arm64": ("arm64", nil), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
        "i686": ("386", nil), "i386": ("386", nil), "ppc64le": ("ppc64le", nil), "s390x": ("s390x", nil), "riscv64": ("riscv64", nil),
        "loongarch64": ("loong64", nil),
    ]

    /// OCI `architecture` → the `uname -m` name wu pins as `resources.arch`.
    static let machineByOCI: [String: String] = [
        "amd64": "x86_64", "arm64": "aarch64", "arm": "armv7l", "386": "i686", "ppc64le": "ppc64le", "s390x": "s390x",
        "riscv64": "riscv64", "loong64": "loongarch64",
    ]

    /// This machine's `uname -m`.
    static var hostMachine: String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
