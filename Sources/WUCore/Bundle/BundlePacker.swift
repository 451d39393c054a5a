import CArchive
import Crypto
import Dispatch
import FoundationEssentials
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `wu pack`: turns a job directory (`wu.json`, `code/`, `inputs/`) into a signed, deterministic `.wu` bundle.
///
/// Deterministic means the same job gives byte-identical bundles whatever the umask, mtimes, owners,
/// directory order or location: entries sorted by path, owners and times zeroed, modes 644 or 755.
public enum BundlePacker {
    /// What `pack` produced.
    public struct Packed: Sendable {
        public let manifest: Manifest
        public let manifestBytes: [UInt8]
        public let signer: PublicSigningKey
        public let bundleBytes: Int64
    }

    /// Checks a requester's own profile file: its bytes and where it came from (for messages) in, the
    /// profile's `name` out. `wu pack` passes the full profile parser (WUProfiles); WUCore cannot link it.
    public typealias ProfileCheck = (_ bytes: [UInt8], _ origin: String) throws -> String

    /// An image read and checked for packing: what the manifest pins, and where each blob's bytes are.
    public struct PackableImage: Sendable {
        public var image: Manifest.Image
        /// The `uname -m` name of the image's architecture, pinned as `resources.arch` when unset.
        public var machine: String
        /// Blob SHA-256 (hex) → a file holding exactly its bytes.
        public var blobSources: [String: String]

        public init(image: Manifest.Image, machine: String, blobSources: [String: String]) {
            self.image = image
            self.machine = machine
            self.blobSources = blobSources
        }
    }

    /// Reads the image at an absolute path inside the job, for `arch` (`resources.arch`; nil means the
    /// host's), writing what it must unpack or make (an archive's blobs, a made config) under `scratch`.
    /// `wu pack` passes WUImages' reader; WUCore knows no OCI layout.
    public typealias ImageLoad = (_ path: String, _ arch: String?, _ scratch: String) throws -> PackableImage

    /// Packs `jobDirectory` into `output` (written to a temporary file, then renamed into place).
    ///
    /// - Parameter checkProfile: Validates a profile file the job carries (`"profile": {"file": …}`);
    ///   without it only the JSON shape and the `name` are checked.
    /// - Parameter knownProfiles: The built-in profile names a named `profile` must be one of; nil
    ///   checks nothing (WUCore cannot link the profiles).
    /// - Throws: `invalidJobSpec` for `wu.json` problems (a profile file that is missing or malformed
    ///   included), `unsafeEntry` for a symlink leaving the job, a device, FIFO or socket, or a
    ///   setuid/setgid file; `io` for file system errors.
    public static func pack(
        jobDirectory: String, key: SigningKey, output: String, compressionLevel: Int = 3, checkProfile: ProfileCheck? = nil,
        knownProfiles: [String]? = nil, loadImage: ImageLoad? = nil
    ) throws -> Packed {
        let root = try canonicalPath(jobDirectory)
        let specBytes = try FileIO.readFile(root + "/" + JobSpec.fileName, limit: 4 << 20)
        let spec = try JobSpec.parse(specBytes, source: jobDirectory + "/" + JobSpec.fileName)
        if let knownProfiles { try spec.checkProfileName(known: knownProfiles, source: jobDirectory + "/" + JobSpec.fileName) }

        var sources: [(path: String, source: String)] = []
        for top in ["code", "inputs"] where (try? FileIO.lstat(root + "/" + top)) != nil {
            try collect(relative: top, root: root, into: &sources)
        }
        var profileName = spec.profile
        var carried: (source: String, digest: String)?
        if let relative = spec.profileFile {
            let (source, bytes) = try readProfileFile(relative, root: root)
            let origin = jobDirectory + "/" + relative
            do {
                profileName = try checkProfile?(bytes, origin) ?? minimalProfileName(bytes, origin: origin)
            } catch let error as WUError {
                throw error
            } catch {
                throw WUError(.invalidJobSpec, "profile.file: \(error)")
            }
            guard Validate.isIdentifier(profileName) else {
                throw WUError(.invalidJobSpec, "\(origin): its \"name\" '\(profileName)' must be 1 to 64 letters, digits, '.', '_' or '-'")
            }
            sources.append((Manifest.profileEntryName, source))
            carried = (source, Digest.sha256(bytes))
        }
        sources.sort { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
        let files = try hashAll(sources)
        if let carried, files.first(where: { $0.path == Manifest.profileEntryName })?.sha256 != carried.digest {
            throw WUError(.io, "\(carried.source) changed while it was being packed; pack again")
        }
        let units = try expandUnits(spec.units, files: files)

        let scratch = spec.image == nil ? nil : try makeScratch(beside: output)
        defer { if let scratch { FileIO.removeTree(scratch) } }
        var packable: PackableImage?
        if let relative = spec.image, let scratch {
            guard let loadImage else { throw WUError(.invalidJobSpec, "image: this program cannot pack images; use `wu pack`") }
            packable = try loadImage(try resolveInside(relative, root: root, field: "image"), spec.resources.arch, scratch)
        }
        var resources = spec.resources
        if resources.arch == nil, let packable { resources.arch = packable.machine }

        let manifest = Manifest(
            name: spec.name, version: spec.version, command: spec.command, env: spec.env, profile: profileName,
            resources: resources, units: units, redundancy: spec.redundancy, aggregate: spec.aggregate, files: files,
            profileFile: carried == nil ? nil : Manifest.profileEntryName, onUnitFailure: spec.onUnitFailure, image: packable?.image
        )
        try manifest.validate()
        let manifestBytes = try manifest.encoded()
        let signatureBytes = try BundleSignature.sign(manifestBytes, with: key).encoded()

        var sourceByPath = Dictionary(uniqueKeysWithValues: sources.map { ($0.path, $0.source) })
        for entry in manifest.imageEntries {
            guard let source = packable?.blobSources[entry.sha256] else {
                throw WUError(.io, "image: no bytes for blob sha256:\(entry.sha256); the image reader lost it")
            }
            sourceByPath[entry.path] = source
        }
        let temporary = output + ".tmp-\(getpid())"
        do {
            try writeArchive(
                to: temporary, manifestBytes: manifestBytes, signatureBytes: signatureBytes, files: files + manifest.imageEntries,
                sources: sourceByPath, level: compressionLevel
            )
            guard rename(temporary, output) == 0 else {
                throw WUError(.io, "cannot move the bundle into place at \(output)", cause: SystemCallError("rename", path: output, errno: errno))
            }
        } catch {
            unlink(temporary)
            throw error
        }
        let size = (try? FileIO.lstat(output).st_size).map(Int64.init) ?? 0
        return Packed(manifest: manifest, manifestBytes: manifestBytes, signer: key.publicKey, bundleBytes: size)
    }

    /// A new directory beside `output` for what packing an image must write, removed after packing.
    static func makeScratch(beside output: String) throws -> String {
        var template = Array((output + ".image-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw WUError(.io, "cannot make a scratch directory beside \(output)", cause: SystemCallError("mkdtemp", path: output, errno: errno))
        }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The real path of `relative` (a `wu.json` field), which must stay inside the job directory;
    /// a symlink is followed only while it stays inside.
    static func resolveInside(_ relative: String, root: String, field: String) throws -> String {
        guard let resolved = realpath(root + "/" + relative, nil) else {
            throw WUError(.invalidJobSpec, "\(field): cannot find \(relative) in the job directory")
        }
        let source = String(cString: resolved)
        free(resolved)
        guard source.hasPrefix(root + "/") else {
            throw WUError(.invalidJobSpec, "\(field): \(relative) leads outside the job directory (to \(source))")
        }
        return source
    }

    /// Reads `"profile": {"file": relative}`: a regular file inside the job directory, at most
    /// ``Manifest/maxProfileBytes``; a symlink is followed only while it stays inside.
    static func readProfileFile(_ relative: String, root: String) throws -> (source: String, bytes: [UInt8]) {
        let source = try resolveInside(relative, root: root, field: "profile.file")
        var st = stat()
        guard stat(source, &st) == 0, FileIO.fileType(st) == S_IFREG else {
            throw WUError(.invalidJobSpec, "profile.file: \(relative) is not a regular file")
        }
        try checkRegular(st, relative)
        guard Int64(st.st_size) <= Manifest.maxProfileBytes else {
            throw WUError(.invalidJobSpec, "profile.file: \(relative) is \(st.st_size) bytes; a profile may have at most \(Manifest.maxProfileBytes)")
        }
        let bytes: [UInt8]
        do { bytes = try FileIO.readFile(source, limit: Int(Manifest.maxProfileBytes)) } catch let error as WUError {
            throw WUError(.invalidJobSpec, "profile.file: \(error.message)")
        }
        return (source, bytes)
    }

    /// Without a full profile checker: a JSON object whose `name` is a string.
    static func minimalProfileName(_ bytes: [UInt8], origin: String) throws -> String {
        struct Named: Decodable { let name: String }
        do {
            return try JSONDecoder().decode(Named.self, from: Data(bytes)).name
        } catch {
            throw WUError(.invalidJobSpec, "\(origin): not a sandbox profile (a JSON object with a string \"name\")")
        }
    }

    static func canonicalPath(_ path: String) throws -> String {
        guard let resolved = realpath(path, nil) else {
            throw WUError(.io, "cannot find the job directory \(path)", cause: SystemCallError("realpath", path: path, errno: errno))
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Walks a payload tree, refusing what a bundle may not carry. Symlinks that stay inside the job are
    /// packed as the regular files they point to; the bundle itself never holds a link.
    static func collect(relative: String, root: String, into sources: inout [(path: String, source: String)]) throws {
        let full = root + "/" + relative
        let st = try FileIO.lstat(full)
        switch FileIO.fileType(st) {
        case S_IFDIR:
            for name in try FileIO.listDirectory(full) {
                try collect(relative: relative + "/" + name, root: root, into: &sources)
            }
        case S_IFREG:
            try checkRegular(st, relative)
            sources.append((relative, full))
        case S_IFLNK:
            let target = try canonicalPath(full)
            guard target.hasPrefix(root + "/") else {
                throw WUError(.unsafeEntry, "\(relative) is a symbolic link to \(target), outside the job directory: copy the file into the job instead")
            }
            var targetStat = stat()
            guard stat(target, &targetStat) == 0, FileIO.fileType(targetStat) == S_IFREG else {
                throw WUError(.unsafeEntry, "\(relative) is a symbolic link to something other than a regular file; only links to files inside the job are packed")
            }
            try checkRegular(targetStat, relative)
            sources.append((relative, target))
        case S_IFCHR, S_IFBLK:
            throw WUError(.unsafeEntry, "\(relative) is a device node; bundles carry regular files only")
        case S_IFIFO:
            throw WUError(.unsafeEntry, "\(relative) is a FIFO; bundles carry regular files only")
        default:
            throw WUError(.unsafeEntry, "\(relative) is a socket or other special file; bundles carry regular files only")
        }
        guard Validate.isPayloadPath(relative) || FileIO.fileType(st) == S_IFDIR else {
            throw WUError(.unsafeEntry, "\(relative) has a name wu cannot carry (backslash, NUL or over 4096 bytes)")
        }
    }

    static func checkRegular(_ st: stat, _ relative: String) throws {
        if st.st_mode & (S_ISUID | S_ISGID) != 0 {
            throw WUError(.unsafeEntry, "\(relative) is setuid or setgid; remove the bit (chmod u-s,g-s) before packing")
        }
    }

    /// Hashes every file, in parallel across cores.
    static func hashAll(_ sources: [(path: String, source: String)]) throws -> [Manifest.File] {
        let results = Mutex<[Int: Result<Manifest.File, WUError>]>([:])
        DispatchQueue.concurrentPerform(iterations: sources.count) { index in
            let (path, source) = sources[index]
            let outcome: Result<Manifest.File, WUError>
            do {
                let (digest, size, mode) = try hashFile(source)
                outcome = .success(Manifest.File(path: path, sha256: digest, size: size, mode: mode))
            } catch let error as WUError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(WUError(.io, "cannot hash \(source): \(error)"))
            }
            results.withLock { $0[index] = outcome }
        }
        return try results.withLock { all in try (0..<sources.count).map { try all[$0]!.get() } }
    }

    static func hashFile(_ path: String) throws -> (String, Int64, Int) {
        let fd = try FileIO.open(path, O_RDONLY)
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        var hasher = SHA256()
        var size: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try FileIO.read(fd, into: buffer, path: path)
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            size += Int64(n)
        }
        let mode = st.st_mode & 0o111 != 0 ? 0o755 : 0o644
        return (Digest.hex(hasher.finalize()), size, mode)
    }

    /// Expands `{"split": …}` into one unit per matching input file; checks explicit units' inputs exist.
    static func expandUnits(_ units: JobSpec.Units, files: [Manifest.File]) throws -> [Manifest.Unit] {
        let paths = Set(files.map(\.path))
        switch units {
        case .list(let list):
            for unit in list {
                for input in unit.inputs where !paths.contains(input) {
                    throw WUError(.invalidJobSpec, "unit '\(unit.id)' reads '\(input)', which is not a file in the job directory")
                }
            }
            return list
        case .split(let pattern, let args):
            let matches = files.map(\.path).filter { fnmatch(pattern, $0, FNM_PATHNAME) == 0 }
            guard !matches.isEmpty else {
                throw WUError(.invalidJobSpec, "units.split: no file under inputs/ matches '\(pattern)'")
            }
            var used = Set<String>()
            return try matches.map { path in
                let id = unitID(forInput: path, used: &used)
                guard Validate.isIdentifier(id) else {
                    throw WUError(.invalidJobSpec, "units.split: cannot make a unit id from '\(path)'; rename the file to letters, digits, '.', '_' or '-'")
                }
                let inside = "/in/" + path.dropFirst("inputs/".count)
                return Manifest.Unit(id: id, args: args + [inside], inputs: [path])
            }
        }
    }

    /// `inputs/part-01.txt` → `part-01`; clashes get the path with `/` turned into `-`.
    static func unitID(forInput path: String, used: inout Set<String>) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var id = name
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { id = String(name[..<dot]) }
        let allowed = Set("._-".unicodeScalars)
        id = String(String.UnicodeScalarView(id.unicodeScalars.map { scalar in
            scalar.isASCII && (Validate.isAlphanumeric(UInt8(scalar.value)) || allowed.contains(scalar)) ? scalar : "_"
        }))
        if id == "aggregate" || used.contains(id) {
            id = path.dropFirst("inputs/".count).split(separator: "/").joined(separator: "-")
        }
        used.insert(id)
        return id
    }

    static func writeArchive(
        to path: String, manifestBytes: [UInt8], signatureBytes: [UInt8], files: [Manifest.File], sources: [String: String], level: Int
    ) throws {
        guard let archive = archive_write_new() else { throw WUError(.io, "libarchive could not allocate a writer") }
        defer { archive_write_free(archive) }
        func check(_ status: Int32, _ what: String) throws {
            guard status >= ARCHIVE_WARN else {
                let reason = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
                throw WUError(.io, "cannot write the bundle \(path): \(what): \(reason)")
            }
        }
        try check(archive_write_add_filter_zstd(archive), "zstd")
        try check(archive_write_set_filter_option(archive, "zstd", "compression-level", "\(level)"), "zstd level")
        // zstd's multi-threaded output is the same for any worker count ≥ 1, so this stays deterministic.
        _ = archive_write_set_filter_option(archive, "zstd", "threads", "\(max(1, min(8, sysconf(Int32(_SC_NPROCESSORS_ONLN)))))")
        try check(archive_write_set_format_pax_restricted(archive), "format")
        try check(archive_write_set_bytes_in_last_block(archive, 1), "block")
        try check(archive_write_open_filename(archive, path), "open")

        func header(_ name: String, size: Int64, mode: Int) throws {
            let entry = archive_entry_new()
            defer { archive_entry_free(entry) }
            archive_entry_set_pathname(entry, name)
            archive_entry_set_size(entry, size)
            archive_entry_set_filetype(entry, 0o100000)  // AE_IFREG
            archive_entry_set_perm(entry, mode_t(mode))
            archive_entry_set_mtime(entry, 0, 0)
            archive_entry_set_uid(entry, 0)
            archive_entry_set_gid(entry, 0)
            try check(archive_write_header(archive, entry), "header of \(name)")
        }
        func data(_ bytes: UnsafeRawBufferPointer, _ name: String) throws {
            guard archive_write_data(archive, bytes.baseAddress, bytes.count) == bytes.count else {
                try check(ARCHIVE_FATAL, "data of \(name)")
                return
            }
        }
        try header(Manifest.entryName, size: Int64(manifestBytes.count), mode: 0o644)
        try manifestBytes.withUnsafeBytes { try data($0, Manifest.entryName) }
        try header(BundleSignature.entryName, size: Int64(signatureBytes.count), mode: 0o644)
        try signatureBytes.withUnsafeBytes { try data($0, BundleSignature.entryName) }

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        for file in files {
            let source = sources[file.path]!
            let fd = try FileIO.open(source, O_RDONLY)
            defer { close(fd) }
            try header(file.path, size: file.size, mode: file.mode)
            var written: Int64 = 0
            while true {
                let n = try FileIO.read(fd, into: buffer, path: source)
                if n == 0 { break }
                written += Int64(n)
                guard written <= file.size else { break }
                try data(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), file.path)
            }
            guard written == file.size else {
                throw WUError(.io, "\(file.path) changed size while it was being packed (\(file.size) bytes hashed, now \(written)); pack again")
            }
        }
        try check(archive_write_close(archive), "close")
    }
}
