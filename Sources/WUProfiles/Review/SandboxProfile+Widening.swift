extension SandboxProfile {
    /// What this profile grants that `reference` does not: empty when it is no wider.
    ///
    /// The orchestrator and the runner accept a requester's own profile only when this is empty
    /// for one of the profiles the runner allows. Environment and hostname differences grant
    /// nothing and are left out; everything else (namespaces, network, host paths, devices, every
    /// limit, every syscall with its argument conditions, the default action) counts.
    public func grants(beyond reference: SandboxProfile) -> [ProfileDiff.Difference] {
        ProfileDiff.grants(of: self, beyond: reference).filter(\.widens)
    }

    /// True when this profile grants nothing beyond `reference`.
    public func isNoWider(than reference: SandboxProfile) -> Bool { grants(beyond: reference).isEmpty }

    /// Whether a requester's own profile may run where `allowed` are the runner's profiles.
    public enum Admission: Sendable, Equatable {
        /// No wider than the named allowed profile (the first one, in the order given).
        case accepted(within: String)
        /// Wider than every allowed profile: what it grants beyond each, by profile name.
        case refused(beyond: [String: [ProfileDiff.Difference]])

        /// One line for a refusal: the profile name and, per allowed profile, what it adds.
        ///
        /// A hostile profile's conditions can run to megabytes of text, and the line travels in an HTTP
        /// error and a runner's fail report: each item is cut at ``maxItemCharacters`` and the list per
        /// profile at ``maxItemsShown``, saying how many more there are.
        ///
        /// - Parameter allowedBy: Who allows the profiles compared against, for the wording.
        public func message(profileName: String, allowedBy: String = "this runner allows") -> String {
            switch self {
            case .accepted(let name):
                return "profile '\(profileName)' grants nothing beyond '\(name)'"
            case .refused(let extras):
                let parts = extras.keys.sorted().map { name in
                    let all = extras[name]!
                    var items = all.prefix(Self.maxItemsShown).map { d in
                        let text = "\(d.section) \(d.detail.isEmpty ? d.subject : d.text)"
                        return text.count <= Self.maxItemCharacters ? text : String(text.prefix(Self.maxItemCharacters)) + "…"
                    }
                    if all.count > Self.maxItemsShown { items.append("and \(all.count - Self.maxItemsShown) more") }
                    return "beyond '\(name)': " + items.joined(separator: "; ")
                }
                return "profile '\(profileName)' is wider than every profile \(allowedBy) (" + parts.joined(separator: " | ") + ")"
            }
        }

        /// The most grants a refusal lists per allowed profile.
        public static let maxItemsShown = 40
        /// The longest one grant's text may be in a refusal.
        public static let maxItemCharacters = 200
    }

    /// Every profile in `allowed` this one grants nothing beyond (its bases, in the order given), and
    /// the refusal when there is none, from one comparison with each: the orchestrator stores the
    /// bases so that only runners allowing one of them are offered the unit, and answers with the
    /// refusal otherwise.
    public func bases(among allowed: [SandboxProfile]) -> (bases: [String], refusal: Admission?) {
        var bases: [String] = []
        var extras: [String: [ProfileDiff.Difference]] = [:]
        for reference in allowed {
            let beyond = grants(beyond: reference)
            if beyond.isEmpty { bases.append(reference.name) } else { extras[reference.name] = beyond }
        }
        return (bases, bases.isEmpty ? .refused(beyond: extras) : nil)
    }

    /// Decides whether this (a requester's) profile may run under one of `allowed`.
    ///
    /// - Returns: `.accepted` with the first allowed profile it is no wider than, else `.refused`
    ///   naming what it grants beyond each.
    public func admission(among allowed: [SandboxProfile]) -> Admission {
        var extras: [String: [ProfileDiff.Difference]] = [:]
        for reference in allowed {
            let beyond = grants(beyond: reference)
            if beyond.isEmpty { return .accepted(within: reference.name) }
            extras[reference.name] = beyond
        }
        return .refused(beyond: extras)
    }
}
