extension SandboxProfile {
    /// Loads a profile a reviewer names: a file when `reference` is a path (it contains `/` or
    /// ends in `.json`), else the profile of that name (`directory/<name>.json`, then the built-in one).
    ///
    /// - Returns: The profile and where it came from, for display.
    /// - Throws: ``SandboxError`` `unknownProfile` or `invalidProfile`.
    public static func load(reference: String, directory: String? = nil) throws(SandboxError) -> (profile: SandboxProfile, origin: String) {
        if reference.contains("/") || reference.hasSuffix(".json") {
            guard let bytes = ProfileFiles.read(reference) else {
                throw SandboxError(.unknownProfile, "\(reference): cannot read the file")
            }
            return (try parse(bytes, origin: reference), reference)
        }
        let profile = try load(named: reference, directory: directory)
        if let directory, ProfileFiles.exists(directory + "/" + reference + ".json") {
            return (profile, directory + "/" + reference + ".json")
        }
        return (profile, "built-in \(reference).json")
    }
}
