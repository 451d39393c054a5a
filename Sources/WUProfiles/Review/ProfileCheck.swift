public import WUCore

/// A bundle's profile request against a runner's allowed profiles (`wu profile check job.wu`).
///
/// Reads only the manifest and, when the bundle carries its own profile, that file
/// (``BundleReader/carriedProfile(_:limits:)``): nothing is verified, extracted or run. The bundle
/// passes when it asks for a profile the runner allows and every resource it asks for is within that
/// profile's bounds — the same bounds a runner applies before it starts a unit, where a request above
/// them is refused, not clipped. A carried profile is allowed when it grants nothing beyond one of the
/// allowed profiles (the orchestrator's and the runner's rule, ``SandboxProfile/admission(among:)``),
/// and its own limits are the bounds.
public struct ProfileCheck: Sendable, Encodable {
    public struct Resource: Sendable, Encodable {
        public var name: String
        public var requested: String
        public var bound: String
        public var ok: Bool
    }

    public var bundle: String
    public var job: String
    public var profile: String
    /// The bundle carries its own profile (``Manifest/profileFile``) rather than naming one.
    public var carried: Bool
    /// For a carried profile: the allowed profile it grants nothing beyond, if any.
    public var within: String?
    public var allowedProfiles: [String]
    /// The requested profile is one of `allowedProfiles`.
    public var profileAllowed: Bool
    /// Why the requested profile could not be loaded, if it could not.
    public var profileError: String?
    public var resources: [Resource]
    /// Every reason the bundle would be refused; empty when it would run.
    public var problems: [String]

    public var passes: Bool { problems.isEmpty }

    enum CodingKeys: String, CodingKey {
        case bundle, job, profile, carried, within, resources, problems, passes
        case allowedProfiles = "allowed_profiles"
        case profileAllowed = "profile_allowed"
        case profileError = "profile_error"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(bundle, forKey: .bundle)
        try c.encode(job, forKey: .job)
        try c.encode(profile, forKey: .profile)
        try c.encode(carried, forKey: .carried)
        try c.encodeIfPresent(within, forKey: .within)
        try c.encode(allowedProfiles, forKey: .allowedProfiles)
        try c.encode(profileAllowed, forKey: .profileAllowed)
        try c.encodeIfPresent(profileError, forKey: .profileError)
        try c.encode(resources, forKey: .resources)
        try c.encode(problems, forKey: .problems)
        try c.encode(passes, forKey: .passes)
    }

    /// Checks the bundle at `path`.
    ///
    /// - Parameters:
    ///   - allowed: The profile names the runner accepts.
    ///   - profileDirectory: Where profiles are read from before the built-in ones (`--profile-dir`).
    /// - Throws: `WUError` when the bundle's manifest cannot be read.
    public init(bundle path: String, allowed: [String], profileDirectory: String? = nil) throws {
        let (manifest, carried) = try BundleReader.carriedProfile(.file(path))
        self.init(manifest: manifest, bundle: path, allowed: allowed, profileDirectory: profileDirectory, carriedProfile: carried)
    }

    /// Checks an already read manifest.
    ///
    /// - Parameter carriedProfile: The bytes of the profile the bundle carries, when it carries one.
    public init(manifest: Manifest, bundle: String, allowed: [String], profileDirectory: String? = nil, carriedProfile: [UInt8]? = nil) {
        self.bundle = bundle
        job = "\(manifest.name) \(manifest.version)"
        profile = manifest.profile
        carried = manifest.profileFile != nil
        allowedProfiles = allowed
        problems = []
        resources = []
        let loaded: SandboxProfile
        if carried {
            profileAllowed = false
            do throws(SandboxError) {
                guard let carriedProfile else { throw SandboxError(.invalidProfile, "the bundle names a profile file but holds none") }
                loaded = try SandboxProfile.carried(by: manifest, bytes: carriedProfile)
                var references: [SandboxProfile] = []
                for name in allowed { references.append(try SandboxProfile.load(named: name, directory: profileDirectory)) }
                let admission = loaded.admission(among: references)
                if case .accepted(let base) = admission {
                    profileAllowed = true
                    within = base
                } else {
                    problems.append(admission.message(profileName: loaded.name))
                }
            } catch {
                profileError = error.message
                problems.append(error.message)
                return
            }
        } else {
            profileAllowed = allowed.contains(manifest.profile)
            if !profileAllowed {
                problems.append("profile '\(manifest.profile)' is not one this runner allows (\(allowed.joined(separator: ", ")))")
            }
            do {
                loaded = try SandboxProfile.load(named: manifest.profile, directory: profileDirectory)
            } catch {
                profileError = error.message
                problems.append(error.message)
                return
            }
        }
        let l = loaded.limits
        let r = manifest.resources
        func cpus(_ m: Int) -> String { m % 1000 == 0 ? "\(m / 1000)" : "\(Double(m) / 1000)" }
        func check(_ name: String, _ requested: Int64, _ bound: Int64, _ show: (Int64) -> String) {
            let ok = requested <= bound
            resources.append(Resource(name: name, requested: show(requested), bound: show(bound), ok: ok))
            if !ok { problems.append("\(name) \(show(requested)) is above the '\(loaded.name)' profile's bound \(show(bound))") }
        }
        check("cpus", Int64(r.millicpus), Int64(l.maxMillicpus)) { cpus(Int($0)) }
        check("memory", r.memoryBytes, l.maxMemoryBytes, ByteSize.format)
        check("pids", Int64(r.pids), Int64(l.maxPids)) { "\($0)" }
        check("disk", r.diskBytes, l.maxDiskBytes, ByteSize.format)
        check("wall time", r.wallTimeMs, l.maxWallTimeMs) { DurationText.format(milliseconds: $0) }
        if r.gpus > 0 {
            resources.append(Resource(name: "gpus", requested: "\(r.gpus)", bound: "0", ok: false))
            problems.append("gpus \(r.gpus): no sandbox profile passes a GPU to a unit")
        }
    }

    /// The check as text.
    public var lines: [String] {
        var out = ["bundle   \(bundle)", "job      \(job)"]
        if carried {
            let verdict = within.map { "allowed: grants nothing beyond '\($0)'" } ?? "NOT ALLOWED"
            out.append("profile  \(profile) (carried in the bundle): \(verdict) (this runner allows: \(allowedProfiles.joined(separator: ", ")))")
        } else {
            let verdict = profileAllowed ? "allowed" : "NOT ALLOWED"
            out.append("profile  \(profile): \(verdict) (this runner allows: \(allowedProfiles.joined(separator: ", ")))")
        }
        if let profileError { out.append("         \(profileError)") }
        if !resources.isEmpty {
            out.append("resources (requested / the profile's bound):")
            for r in resources {
                out.append(
                    "  " + ProfileExplanation.pad(r.name, 10) + ProfileExplanation.pad(r.requested, 8) + "/ " + ProfileExplanation.pad(r.bound, 8)
                        + (r.ok ? "ok" : "OVER")
                )
            }
        }
        if problems.isEmpty {
            out.append("result   passes: a runner allowing \(allowedProfiles.joined(separator: ", ")) would run it")
        } else {
            out.append("result   refused:")
            for p in problems { out.append("  - \(p)") }
        }
        return out
    }

    public var text: String { lines.joined(separator: "\n") }
}
