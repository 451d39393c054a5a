public import WUCore
import WUProtocol
public import WUSandbox
#if canImport(Glibc)
import Glibc
#endif

/// The host side of one unit: `code/`, `in/`, `out/` and the progress file under the runner's work
/// directory, and the sandbox request that mounts them at `/code`, `/in`, `/out`, `/run/wu/progress`.
public struct UnitWorkspace: Sendable {
    public let root: String
    public var code: String { root + "/code" }
    public var input: String { root + "/in" }
    public var output: String { root + "/out" }
    public var progress: String { root + "/progress" }

    /// Creates a fresh workspace (removing any left by a previous run of the same id).
    public init(root: String) throws {
        FileIO.removeTree(root)
        for directory in [root, root + "/code", root + "/in"] {
            guard mkdir(directory, 0o755) == 0 else {
                throw WUError(.io, "cannot create \(directory)", cause: SystemCallError("mkdir", path: directory, errno: errno))
            }
        }
        guard mkdir(root + "/out", 0o700) == 0 else {
            throw WUError(.io, "cannot create \(root)/out", cause: SystemCallError("mkdir", path: root + "/out", errno: errno))
        }
        self.root = root
    }

    /// Where a payload file goes: `code/x` under `code/`, `inputs/a/b` under `in/a/b`.
    public func hostPath(forPayload path: String) -> String {
        if path.hasPrefix("inputs/") { return input + "/" + path.dropFirst("inputs/".count) }
        return code + "/" + path.dropFirst("code/".count)
    }

    /// Places a verified blob at its payload path: a hard link when the mode already matches, else a copy.
    public func place(blob: String, as file: Manifest.File) throws {
        let target = hostPath(forPayload: file.path)
        try FileIO.makeDirectories(String(target[..<target.lastIndex(of: "/")!]))
        var st = stat()
        if stat(blob, &st) == 0, Int(st.st_mode & 0o777) == file.mode, link(blob, target) == 0 { return }
        try FileIO.copyFile(from: blob, to: target, mode: UInt32(file.mode))
    }

    /// The unit's progress (0…1) from `/run/wu/progress`, read without following links; nil when unset.
    public func readProgress() -> Double? {
        let fd = open(progress, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? ""
        guard let value = Double(text), value.isFinite else { return nil }
        return min(1, max(0, value))
    }

    /// The sandbox request for a manifest's unit (or its aggregate when `unit` is nil), bound to this workspace.
    public static func request(manifest: Manifest, unit: Manifest.Unit?, jobID: String, workspace: UnitWorkspace) -> SandboxRequest {
        .forUnit(
            of: manifest, unit: unit, jobID: jobID, code: workspace.code, input: workspace.input, output: workspace.output,
            progress: workspace.progress
        )
    }

    public func remove() { FileIO.removeTree(root) }
}
