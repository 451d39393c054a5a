import FoundationEssentials

/// The rules a job spec and a manifest share: names, paths, commands, environments.
enum Validate {
    /// Names of jobs, profiles, architectures: 1–64 of `[A-Za-z0-9._-]`, not starting with `.` or `-`.
    static func identifier(_ text: String, field: String) throws {
        guard isIdentifier(text) else {
            throw WUError(.invalidJobSpec, "\(field) must be 1 to 64 characters of letters, digits, '.', '_' or '-', not starting with '.' or '-'; got '\(text)'")
        }
    }

    static func isIdentifier(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...64).contains(bytes.count), bytes[0] != UInt8(ascii: "."), bytes[0] != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Unit ids become directory names; `aggregate` is reserved for the aggregate's output.
    static func unitID(_ id: String, field: String) throws {
        try identifier(id, field: field)
        guard id != "aggregate" else { throw WUError(.invalidJobSpec, "\(field): 'aggregate' is reserved for the aggregate step's output") }
    }

    static func command(_ argv: [String], field: String) throws {
        guard let first = argv.first, !first.isEmpty else {
            throw WUError(.invalidJobSpec, "\(field) must be a non-empty array: the program and its arguments, e.g. [\"/bin/sh\", \"run.sh\"]")
        }
        guard argv.allSatisfy({ !$0.utf8.contains(0) }) else { throw WUError(.invalidJobSpec, "\(field) must not contain NUL bytes") }
    }

    /// Variable names are `[A-Za-z_][A-Za-z0-9_]*`; `WU_*` names are set by the runner and cannot be given.
    static func environment(_ env: [String: String], field: String) throws {
        for (name, value) in env {
            let bytes = Array(name.utf8)
            guard let first = bytes.first, !isDigit(first), bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "_") }) else {
                throw WUError(.invalidJobSpec, "\(field): '\(name)' is not a valid variable name (letters, digits and '_', not starting with a digit)")
            }
            guard !name.hasPrefix("WU_") else {
                throw WUError(.invalidJobSpec, "\(field): '\(name)' is reserved: the runner sets WU_JOB_ID, WU_UNIT_ID and WU_PROGRESS")
            }
            guard !value.utf8.contains(0) else { throw WUError(.invalidJobSpec, "\(field).\(name) must not contain NUL bytes") }
        }
    }

    /// A relative path of non-empty components, none of them `.` or `..`, no NUL, at most 4096 bytes.
    static func isSafeRelativePath(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= 4096, bytes[0] != UInt8(ascii: "/"), !bytes.contains(0), !bytes.contains(UInt8(ascii: "\\")) else {
            return false
        }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty || component == "." || component == ".." { return false }
        }
        return true
    }

    /// Payload paths live under `code/` or `inputs/`; the one other is a carried profile, `WU-PROFILE.json`.
    static func isPayloadPath(_ path: String) -> Bool {
        ((path.hasPrefix("code/") || path.hasPrefix("inputs/")) && isSafeRelativePath(path)) || path == Manifest.profileEntryName
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }
}

extension Manifest {
    /// True for a name a unit may have: 1–64 of `[A-Za-z0-9._-]`, not `aggregate`, not starting with `.` or `-`.
    public static func isValidUnitID(_ id: String) -> Bool { Validate.isIdentifier(id) && id != "aggregate" }

    /// Checks what a signed manifest promises before anything trusts it: format, paths, units, sizes.
    ///
    /// A trusted key can still sign a manifest with a path like `../x`: verification never relies on the signer.
    /// - Throws: `WUError.invalidManifest` naming the rule broken.
    public func validate() throws {
        func fail(_ message: String) -> WUError { WUError(.invalidManifest, "\(Manifest.entryName): \(message)") }
        guard format == Manifest.currentFormat || format == Manifest.imageFormat else {
            throw fail("format \(format) is not supported (this wu reads \(Manifest.currentFormat) and \(Manifest.imageFormat))")
        }
        guard (format == Manifest.imageFormat) == (image != nil) else {
            throw fail("format \(format) \(image == nil ? "needs an image" : "cannot carry an image"); an image comes with format \(Manifest.imageFormat)")
        }
        guard Validate.isIdentifier(name) else { throw fail("name '\(name)' is not a valid job name") }
        guard Validate.isIdentifier(profile) else { throw fail("profile '\(profile)' is not a valid profile name") }
        do {
            try Validate.command(command, field: "command")
            try Validate.environment(env, field: "env")
            if let aggregate { try Validate.command(aggregate.command, field: "aggregate.command") }
        } catch let error as WUError {
            throw fail(error.message)
        }
        guard redundancy.replicas >= 1, redundancy.quorum >= 1, redundancy.quorum <= redundancy.replicas else {
            throw fail("redundancy needs 1 ≤ quorum ≤ replicas")
        }
        guard resources.millicpus > 0, resources.memoryBytes > 0, resources.diskBytes >= 0, resources.wallTimeMs > 0, resources.pids > 0,
            resources.gpus >= 0
        else { throw fail("resources must be positive") }
        var previous: String?
        var paths = Set<String>()
        for file in files {
            guard Validate.isPayloadPath(file.path) else { throw fail("file path '\(file.path)' is not a safe path under code/ or inputs/") }
            if let previous, !(previous < file.path) {
                throw fail("files must be sorted by path and unique; '\(file.path)' comes after '\(previous)'")
            }
            previous = file.path
            paths.insert(file.path)
            guard Digest.isSHA256(file.sha256) else { throw fail("file '\(file.path)' has no valid sha256") }
            guard file.size >= 0 else { throw fail("file '\(file.path)' has a negative size") }
            guard file.mode == 0o644 || file.mode == 0o755 else {
                throw fail("file '\(file.path)' has mode \(String(file.mode, radix: 8)); only 644 and 755 are allowed")
            }
        }
        if let profileFile {
            guard profileFile == Manifest.profileEntryName, let entry = profileFileEntry else {
                throw fail("profile_file must be '\(Manifest.profileEntryName)', one of the files")
            }
            guard entry.size <= Manifest.maxProfileBytes else {
                throw fail("the profile file is \(entry.size) bytes; at most \(Manifest.maxProfileBytes) are allowed")
            }
        } else if paths.contains(Manifest.profileEntryName) {
            throw fail("it holds \(Manifest.profileEntryName) but names no profile_file")
        }
        try validateImage(fail)
        guard !units.isEmpty else { throw fail("it lists no units") }
        var ids = Set<String>()
        for unit in units {
            guard Validate.isIdentifier(unit.id), unit.id != "aggregate" else { throw fail("unit id '\(unit.id)' is not valid") }
            guard ids.insert(unit.id).inserted else { throw fail("unit id '\(unit.id)' is used twice") }
            for input in unit.inputs where !paths.contains(input) {
                throw fail("unit '\(unit.id)' reads '\(input)', which is not among the files")
            }
        }
    }

    /// The exact bytes `wu pack` writes for this manifest: sorted keys, pretty-printed, a final newline.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }

    /// Decodes and validates manifest bytes.
    public static func decode(_ bytes: [UInt8]) throws -> Manifest {
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw WUError(.invalidManifest, "\(Manifest.entryName) cannot be read: \(JobSpec.describe(error))")
        }
        try manifest.validate()
        return manifest
    }
}
