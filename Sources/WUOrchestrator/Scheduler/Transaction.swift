import GRDB

/// What one write transaction of the scheduler needs and produces: the time, the settings,
/// and the events and wake-ups to publish once it commits.
///
/// Not `Sendable`: it lives inside one transaction closure.
final class Transaction {
    let db: Database
    let now: Int64
    let config: OrchestratorConfiguration
    var events: [OrchestratorEvent] = []
    /// Set when new work became claimable: long-polling claims are woken after the commit.
    var workAvailable = false
    var counters = Counters()

    struct Counters: Sendable {
        var claimed = 0
        var completed = 0
        var failed = 0
        var valid = 0
        var invalid = 0
        var requeued = 0
    }

    /// False when nobody listens to `/v1/events`: events are then not even built.
    let eventsWanted: Bool

    init(db: Database, now: Int64, config: OrchestratorConfiguration, eventsWanted: Bool = true) {
        self.db = db
        self.now = now
        self.config = config
        self.eventsWanted = eventsWanted
    }

    func emit(_ kind: String, job: JobRecord?, _ fields: @autoclosure () -> [String: String]) {
        guard eventsWanted else { return }
        let fields = fields()
        events.append(OrchestratorEvent(kind: kind, jobID: job?.id, owner: job?.owner, runnerTokenIDs: [], fields: fields))
    }

    /// The caller's identity, which must hold one of `roles`.
    func authenticate(_ caller: Caller, _ roles: [Role]) throws -> Identity {
        try Self.authenticate(db, caller, roles, now: now)
    }

    /// `authenticate` on any connection: a read may need to know the caller before it looks anything up.
    static func authenticate(_ db: Database, _ caller: Caller, _ roles: [Role], now: Int64) throws -> Identity {
        let identity: Identity
        switch caller {
        case .identity(let known): identity = known
        case .credential(let credential):
            guard let found = try TokenAdmin.identify(db, token: credential, now: now) else { throw APIError.unauthorized }
            identity = found
        }
        guard roles.contains(identity.role) else {
            throw APIError.forbidden("this route is for \(roles.map(\.rawValue).joined(separator: " or ")) tokens, not \(identity.role.rawValue)")
        }
        return identity
    }

    var output: Output { Output(events: events, workAvailable: workAvailable, counters: counters) }

    struct Output: Sendable {
        var events: [OrchestratorEvent]
        var workAvailable: Bool
        var counters: Counters
    }
}

/// Parses an id from the wire; anything that is not a positive integer is unknown.
func parseID(_ text: String, _ what: String) throws -> Int64 {
    guard let id = Int64(text), id > 0 else { throw APIError.notFound("\(what) '\(text.prefix(80))'") }
    return id
}
