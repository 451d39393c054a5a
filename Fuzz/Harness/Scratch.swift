import WUCore

#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary tree for one extraction, laid out so that an escape shows.
///
/// The destination is `root/a/b/dest` and the harness's own files go in `root/in/`: an entry that
/// lands beside the destination, or up to two levels above it, is found by ``checkNothingOutside()``.
struct Scratch {
    let root: String
    var inputDirectory: String { root + "/in" }
    var destination: String { root + "/a/b/dest" }

    init() throws(FuzzFailure) {
        var template = Array("/tmp/wu-fuzz-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FuzzFailure("mkdtemp failed (errno \(errno))") }
        root = String(cString: made)
        for directory in [inputDirectory, root + "/a", root + "/a/b"] where mkdir(directory, 0o755) != 0 {
            throw FuzzFailure("cannot create \(directory) (errno \(errno))")
        }
    }

    func remove() { FileIO.removeTree(root) }

    /// Fails when anything exists under the root but the destination and the harness's input files.
    func checkNothingOutside(inputs: Set<String> = []) throws(FuzzFailure) {
        try expect(root, holdsOnly: ["a", "in"])
        try expect(inputDirectory, holdsOnly: inputs)
        try expect(root + "/a", holdsOnly: ["b"])
        try expect(root + "/a/b", holdsOnly: ["dest"])
    }

    /// Fails unless a refused extraction left no destination behind.
    func checkDestinationRemoved() throws(FuzzFailure) {
        var st = stat()
        guard lstat(destination, &st) != 0 else { throw FuzzFailure("a refused extraction left \(destination) behind") }
    }

    /// Every regular file under the destination with its size; fails on any other kind of entry.
    func extractedFiles() throws(FuzzFailure) -> [String: Int64] {
        var files: [String: Int64] = [:]
        try walk(destination, prefix: "", into: &files)
        return files
    }

    private func walk(_ directory: String, prefix: String, into files: inout [String: Int64]) throws(FuzzFailure) {
        for name in try names(in: directory) {
            let path = directory + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { throw FuzzFailure("cannot lstat \(path) (errno \(errno))") }
            switch st.st_mode & S_IFMT {
            case S_IFREG: files[prefix + name] = Int64(st.st_size)
            case S_IFDIR: try walk(path, prefix: prefix + name + "/", into: &files)
            default: throw FuzzFailure("the extraction made \(path), which is neither a regular file nor a directory")
            }
        }
    }

    private func expect(_ directory: String, holdsOnly allowed: Set<String>) throws(FuzzFailure) {
        for name in try names(in: directory) where !allowed.contains(name) {
            throw FuzzFailure("the extraction wrote \(directory)/\(name), outside its destination")
        }
    }

    private func names(in directory: String) throws(FuzzFailure) -> [String] {
        do { return try FileIO.listDirectory(directory) } catch { throw FuzzFailure("cannot list \(directory): \(error)") }
    }
}
