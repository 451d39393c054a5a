import FoundationEssentials

/// A change worth telling the dashboard about: a job, unit, copy or runner moved.
public struct OrchestratorEvent: Sendable, Equatable {
    /// `job`, `unit`, `copy`, `runner`.
    public var kind: String
    public var jobID: Int64?
    /// The requester (by name) who owns the job: only they (and admins) see it.
    public var owner: String?
    public var runnerTokenIDs: [Int64]
    public var fields: [String: String]

    /// The event as one server-sent-events message.
    func serverSentEvent(id: UInt64) -> String {
        var object = fields
        if let jobID { object["job_id"] = String(jobID) }
        let data = (try? JSONEncoder().encode(object)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "id: \(id)\nevent: \(kind)\ndata: \(data)\n\n"
    }
}
