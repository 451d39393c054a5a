import FoundationEssentials
public import WUCore
#if canImport(Glibc)
import Glibc
#endif

/// Whether the privileged tests run: as root, and always under `CI=true`, where a test that would
/// skip must fail instead (a broken install must never turn green): as another user it then runs
/// and fails on its first privileged step.
public let isRoot = geteuid() == 0 || getenv("CI").map { String(cString: $0) } == "true"

/// The repository's root, from this file's path.
public let repositoryRoot: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path
}()

/// The directory holding the binaries `swift test` built.
public let binDirectory: String = {
    let components = CommandLine.arguments[0].split(separator: "/", omittingEmptySubsequences: false)
    let bundleIndex = components.lastIndex { $0.hasSuffix(".xctest") } ?? components.count - 1
    return components[..<bundleIndex].joined(separator: "/")
}()

/// `sandbox-profiles/<base>.json` renamed, with a syscall allowed, a host path bound or variables set on top.
public func profileVariant(of base: String, name: String, syscall: String? = nil, mount: String? = nil, environment: String? = nil) throws -> String {
    var text = String(decoding: try FileIO.readFile(repositoryRoot + "/sandbox-profiles/" + base + ".json"), as: UTF8.self)
    text = text.replacing(#""name": "\#(base)""#, with: #""name": "\#(name)""#)
    if let syscall { text = text.replacing(#""syscalls": ["#, with: #""syscalls": [{"names": ["\#(syscall)"], "action": "SCMP_ACT_ALLOW"},"#) }
    if let mount { text = text.replacing(#""mounts": ["#, with: #""mounts": [{"source": "\#(mount)"},"#) }
    if let environment { text = text.replacing(#""environment": {"#, with: #""environment": {\#(environment),"#) }
    return text
}
