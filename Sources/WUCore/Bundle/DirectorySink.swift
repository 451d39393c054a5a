#if canImport(Glibc)
import Glibc
#endif

/// Extracts payload files under a destination directory that it creates and owns.
///
/// Paths were already checked by the reader (relative, no `..`, listed in the signed manifest), the
/// directory is new, and files are created with `O_EXCL|O_NOFOLLOW`: nothing can land outside it.
/// On `abort` the whole destination is removed.
public struct DirectorySink: BundleSink {
    public let destination: String
    private var fd: Int32 = -1
    private var currentPath = ""
    private var createdDirectories: Set<String> = []

    /// Creates `destination`, which must not exist yet (or be an empty directory).
    public init(destination: String) throws {
        if mkdir(destination, 0o755) != 0 {
            let error = errno
            guard error == EEXIST, (try? FileIO.listDirectory(destination))?.isEmpty == true else {
                throw WUError(
                    .io, "cannot extract into \(destination): it must be a new or empty directory",
                    cause: SystemCallError("mkdir", path: destination, errno: error)
                )
            }
        }
        self.destination = destination
    }

    public mutating func begin(_ file: Manifest.File) throws {
        let components = file.path.split(separator: "/")
        var directory = destination
        for component in components.dropLast() {
            directory += "/" + component
            if createdDirectories.insert(directory).inserted, mkdir(directory, 0o755) != 0, errno != EEXIST {
                throw WUError(.io, "cannot create \(directory)", cause: SystemCallError("mkdir", path: directory, errno: errno))
            }
        }
        currentPath = destination + "/" + file.path
        fd = try FileIO.open(currentPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
    }

    public mutating func write(_ chunk: UnsafeRawBufferPointer) throws {
        try FileIO.writeAll(fd, chunk, path: currentPath)
    }

    public mutating func end(_ file: Manifest.File) throws {
        fchmod(fd, mode_t(file.mode))
        close(fd)
        fd = -1
    }

    public mutating func abort() {
        if fd >= 0 { close(fd) }
        fd = -1
        FileIO.removeTree(destination)
    }
}
