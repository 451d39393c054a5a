public import WUCore

extension SandboxProfile {
    /// What `wu pack` runs on a job's own profile file: the full parse, then its `name` for the manifest.
    ///
    /// - Throws: ``SandboxError`` `invalidProfile` naming the bad key or value, with `origin` first.
    public static func checkForPacking(_ bytes: [UInt8], origin: String) throws -> String {
        try parse(bytes, origin: origin).name
    }

    /// Parses the profile a bundle carries (the bytes of ``Manifest/profileFileEntry``, already checked
    /// against its digest) and checks it is the one the signed manifest names.
    ///
    /// - Throws: ``SandboxError`` `invalidProfile`: malformed, too large, an unknown syscall, or a
    ///   `name` other than the manifest's `profile`.
    public static func carried(by manifest: Manifest, bytes: [UInt8]) throws(SandboxError) -> SandboxProfile {
        let origin = "the bundle's \(Manifest.profileEntryName)"
        guard Int64(bytes.count) <= Manifest.maxProfileBytes else {
            throw SandboxError(.invalidProfile, "\(origin) is \(bytes.count) bytes; a profile may have at most \(Manifest.maxProfileBytes)")
        }
        let profile = try parse(bytes, origin: origin)
        guard profile.name == manifest.profile else {
            throw SandboxError(.invalidProfile, "\(origin): its \"name\" is '\(profile.name)', the signed manifest says '\(manifest.profile)'")
        }
        return profile
    }

    /// The built-in profiles, parsed: what a requester's own profile is compared against when no other
    /// set is configured.
    public static func builtins() -> [SandboxProfile] {
        builtinNames.compactMap { try? load(named: $0) }
    }
}
