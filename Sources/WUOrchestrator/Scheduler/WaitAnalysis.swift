import FoundationEssentials
import GRDB
import WUCore
import WUProtocol

/// Why a job's queued copies are not running, worked out when the job is read (Slurm's REASON,
/// `condor_q -better-analyze`), never stored: the runners it depends on come and go.
///
/// The job's needs are held against the registered runners as a claim would hold them, one
/// requirement at a time (active, arch, profile, cpus, memory, disk, gpus); the first that no runner
/// left meets is the reason every waiting unit shares. When some active runner could take the job,
/// each unit waits either for a volunteer that has not run it yet (replicas go to distinct runners)
/// or for room on one.
struct WaitAnalysis {
    /// A registered runner as matching sees it.
    struct Runner {
        let id: Int64
        /// Its volunteer under the distinctness rule: its token, or itself with `--distinct-by runner`.
        let volunteer: Int64
        let active: Bool
        let cap: Capacity
        let used: Capacity
        let arch: String
        let profiles: Set<String>
    }

    let job: JobRecord
    /// The reason no waiting unit can run, when it is one for the whole job.
    let blocker: (code: String, reason: String)?
    /// The active runners that could take the job's units, by capacity and capabilities.
    let able: [Runner]
    /// How many volunteers have an active runner, able or not.
    let activeVolunteers: Int
    /// The `assignment` column naming a copy's volunteer (`Scheduler.volunteerColumn`).
    let volunteerColumn: String

    init(job: JobRecord, runners: [Runner], heartbeatTTLSeconds: Int, distinctBy: OrchestratorConfiguration.DistinctBy = .token) {
        self.job = job
        volunteerColumn = Scheduler.volunteerColumn(distinctBy)
        var pool = runners
        var blocker: (code: String, reason: String)?
        /// Keeps the runners meeting one more requirement; when none is left, that requirement is the
        /// reason, told from the runners that were left before it.
        func narrow(_ code: String, _ keep: (Runner) -> Bool, _ reason: ([Runner]) -> String) {
            guard blocker == nil else { return }
            let kept = pool.filter(keep)
            if kept.isEmpty { blocker = (code, reason(pool)) }
            pool = kept
        }
        typealias Code = WaitingReason.Code
        if job.state == "paused" {
            blocker = (Code.paused, "the job is paused (wu resume \(job.id!))")
        } else if runners.isEmpty {
            blocker = (Code.noRunner, "no runner registered")
        }
        narrow(Code.noActiveRunner, \.active) { _ in
            "no runner active (\(runners.count) registered, none heard from in the last \(heartbeatTTLSeconds) s)"
        }
        if let arch = job.arch {
            let registered = runners.contains { $0.arch == arch }
            narrow(Code.arch, { $0.arch == arch }) { _ in
                registered ? "no active runner with arch \(arch)" : "no runner registered with arch \(arch)"
            }
        }
        let bases = job.profileBases.map { Set((try? JSONDecoder().decode([String].self, from: Data($0.utf8))) ?? []) }
        narrow(Code.profile, { runner in bases.map { !runner.profiles.isDisjoint(with: $0) } ?? runner.profiles.contains(job.profile) }) { _ in
            Self.profileReason(job, bases, registered: runners)
        }
        let needs = job.needs
        narrow(Code.cpus, { $0.cap.millicpus >= needs.millicpus }) { left in
            let most = left.map(\.cap.millicpus).max().map(Self.cpus)
            return Self.largest("needs " + Self.counted(Self.cpus(needs.millicpus), "cpu"), most)
        }
        narrow(Code.memory, { $0.cap.memoryBytes >= needs.memoryBytes }) { left in
            Self.largest("needs \(ByteSize.format(needs.memoryBytes)) memory", left.map(\.cap.memoryBytes).max().map(ByteSize.format))
        }
        narrow(Code.disk, { $0.cap.diskBytes >= needs.diskBytes }) { left in
            Self.largest("needs \(ByteSize.format(needs.diskBytes)) disk", left.map(\.cap.diskBytes).max().map(ByteSize.format))
        }
        narrow(Code.gpus, { $0.cap.gpus >= needs.gpus }) { left in
            let most = left.map(\.cap.gpus).max() ?? 0
            let wanted = "needs " + Self.counted(String(needs.gpus), "gpu")
            return most == 0 ? wanted + ", no active runner has one" : Self.largest(wanted, String(most))
        }
        self.blocker = blocker
        self.able = blocker == nil ? pool : []
        self.activeVolunteers = Set(runners.filter(\.active).map(\.volunteer)).count
    }

    /// Every registered runner with what its leased copies use.
    static func runners(
        _ db: Database, now: Int64, heartbeatTTLSeconds: Int, distinctBy: OrchestratorConfiguration.DistinctBy = .token
    ) throws -> [Runner] {
        var used: [Int64: Capacity] = [:]
        for row in try db.rows(
            sql: """
                SELECT c.runner_id, SUM(j.millicpus), SUM(j.memory_bytes), SUM(j.disk_bytes), SUM(j.gpus)
                FROM copy c JOIN job j ON j.id = c.job_id WHERE c.state = 'leased' GROUP BY c.runner_id
                """
        ) {
            used[row[0]] = Capacity(millicpus: row[1], memoryBytes: row[2], diskBytes: row[3], gpus: row[4])
        }
        let ttl = Int64(heartbeatTTLSeconds) * 1000
        return try RunnerRecord.fetchAll(db).map { r in
            Runner(
                id: r.id!,
                volunteer: Scheduler.volunteer(of: r, distinctBy),
                active: now - r.lastSeenAt <= ttl,
                cap: Capacity(millicpus: r.millicpus, memoryBytes: r.memoryBytes, diskBytes: r.diskBytes, gpus: r.gpus),
                used: used[r.id!] ?? Capacity(millicpus: 0, memoryBytes: 0, diskBytes: 0, gpus: 0),
                arch: r.arch,
                profiles: Set((try? JSONDecoder().decode([String].self, from: Data(r.profiles.utf8))) ?? [])
            )
        }
    }

    /// The job's waiting units grouped by reason, most first. Counts units, not copies.
    func reasons(_ db: Database) throws -> [WaitingReason] {
        guard ["pending", "running", "aggregating", "paused"].contains(job.state) else { return [] }
        let waiting =
            try db.int(sql: "SELECT COUNT(DISTINCT unit_id) FROM copy WHERE job_id = ? AND state = 'queued'", arguments: [job.id!]) ?? 0
        guard waiting > 0 else { return [] }
        if let blocker { return [WaitingReason(count: waiting, code: blocker.code, reason: blocker.reason)] }
        var result: [WaitingReason] = []
        var blocked = 0
        for (replica, count) in try distinctBlocked(db) {
            result.append(WaitingReason(count: count, code: WaitingReason.Code.distinctVolunteer, reason: distinctReason(replica: replica)))
            blocked += count
        }
        if waiting > blocked { result.append(WaitingReason(count: waiting - blocked, code: roomCode, reason: roomReason)) }
        return result.sorted { $0.count > $1.count }
    }

    /// The reason for each of `unitIDs` that has a queued copy.
    func reasons(_ db: Database, units unitIDs: [Int64]) throws -> [Int64: String] {
        guard ["pending", "running", "aggregating", "paused"].contains(job.state) else { return [:] }
        var result: [Int64: String] = [:]
        for list in SQLList.chunks(unitIDs) {
            for unit in try Int64.fetchAll(db, sql: "SELECT DISTINCT unit_id FROM copy WHERE unit_id IN (\(list)) AND state = 'queued'") {
                result[unit] = blocker?.reason ?? roomReason
            }
            guard blocker == nil else { continue }
            for (unit, replica) in try distinctBlockedUnits(db, condition: "c.unit_id IN (\(list))") {
                result[unit] = distinctReason(replica: replica)
            }
        }
        return result
    }

    // MARK: Distinct volunteers

    /// Units whose every able runner already ran a copy, by the replica number of their first queued
    /// copy, with how many units each.
    func distinctBlocked(_ db: Database) throws -> [(replica: Int, count: Int)] {
        guard mayNeedDistinct else { return [] }
        // Only units whose copies already ran on as many runners as there are able volunteers (a runner
        // has one volunteer, so at least that many) can be blocked: found
        // through the job's copies by state, so a fresh 100,000-unit job costs one index range.
        let candidates = try Int64.fetchAll(
            db,
            sql: """
                SELECT unit_id FROM copy WHERE job_id = ? AND state IN ('leased', 'uploaded', 'valid', 'invalid')
                GROUP BY unit_id HAVING COUNT(DISTINCT runner_id) >= ?
                """,
            arguments: [job.id!, ableVolunteers.count]
        )
        var counts: [Int: Int] = [:]
        for list in SQLList.chunks(candidates) {
            for (_, replica) in try distinctBlockedUnits(db, condition: "c.unit_id IN (\(list))") { counts[replica, default: 0] += 1 }
        }
        return counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// `(unit id, replica)` of the queued copies matching `condition` (SQL on `copy c`, made of ids)
    /// that no able runner may take, having each run (or running) a copy of that unit already, as the
    /// claim's distinctness rule says.
    func distinctBlockedUnits(_ db: Database, condition: String) throws -> [(Int64, Int)] {
        guard mayNeedDistinct else { return [] }
        let ids = ableVolunteers.map(String.init).joined(separator: ",")
        return try db.rows(
            sql: """
                SELECT c.unit_id, MIN((SELECT COUNT(*) FROM copy c2 WHERE c2.unit_id = c.unit_id AND c2.id <= c.id)) AS replica
                FROM copy c
                WHERE \(condition) AND c.state = 'queued'
                  AND (SELECT COUNT(DISTINCT a.\(volunteerColumn)) FROM assignment a
                       WHERE a.unit_id = c.unit_id AND a.state IN ('leased', 'completed') AND a.\(volunteerColumn) IN (\(ids))) >= ?
                GROUP BY c.unit_id
                """,
            arguments: [ableVolunteers.count]
        ).map { ($0[0], $0[1]) }
    }

    /// False when no unit can be kept from an able runner by distinctness: with one replica, one
    /// copy at a time never meets a runner twice.
    var mayNeedDistinct: Bool { !able.isEmpty && job.replicas > 1 }

    /// The volunteers of the able runners: copies of one unit go to distinct ones.
    var ableVolunteers: Set<Int64> { Set(able.map(\.volunteer)) }

    /// `waiting for a distinct volunteer for replica 3 (all 3 active volunteers already ran a copy)`.
    func distinctReason(replica: Int) -> String {
        let n = ableVolunteers.count
        let volunteers = n == 1 ? "the 1 active volunteer" : "all \(n) active volunteers"
        let able = n == activeVolunteers ? "" : " able to run it"
        return "waiting for a distinct volunteer for replica \(replica) (\(volunteers)\(able) already ran a copy)"
    }

    // MARK: Room

    /// Able runners with room for one more of the job's units now.
    var roomy: Int { able.filter { $0.cap.subtracting($0.used).fits(job.needs) }.count }

    var roomCode: String { roomy > 0 ? WaitingReason.Code.queued : WaitingReason.Code.busy }

    var roomReason: String {
        let n = able.count
        if roomy > 0 {
            let runners = "\(roomy) of the \(n) active runner\(n == 1 ? "" : "s") able to run it \(roomy == 1 ? "has" : "have") room"
            return "queued: \(runners) (higher priorities and older jobs go first)"
        }
        return n == 1 ? "the 1 active runner able to run it is busy" : "all \(n) active runners able to run it are busy"
    }

    // MARK: Words

    static func profileReason(_ job: JobRecord, _ bases: Set<String>?, registered: [Runner]) -> String {
        guard let bases else {
            let anywhere = registered.contains { $0.profiles.contains(job.profile) }
            return "no \(anywhere ? "active " : "")runner allows profile '\(job.profile)'"
        }
        let names = bases.sorted().map { "'\($0)'" }.joined(separator: ", ")
        return "no active runner allows a profile the job's own profile '\(job.profile)' fits within (\(names.isEmpty ? "none" : names))"
    }

    /// `needs 1 cpu, the largest active runner has 0.5`.
    static func largest(_ needs: String, _ most: String?) -> String {
        guard let most else { return needs }
        return "\(needs), the largest active runner has \(most)"
    }

    /// `1 cpu`, `0.5 cpu`, `2 cpus`.
    static func counted(_ amount: String, _ noun: String) -> String {
        "\(amount) \(noun)" + (Double(amount).map { $0 > 1 } == true ? "s" : "")
    }

    /// Millicpus as cores: `1`, `0.5`, `1.25`.
    static func cpus(_ millicpus: Int) -> String {
        if millicpus % 1000 == 0 { return String(millicpus / 1000) }
        var text = String(format3: millicpus)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }
}

extension JobRecord {
    /// What one of the job's units takes from a runner.
    var needs: Capacity { Capacity(millicpus: millicpus, memoryBytes: memoryBytes, diskBytes: diskBytes, gpus: gpus) }
}

extension String {
    /// `1500` → `1.500`: millis as a decimal with three places.
    fileprivate init(format3 millis: Int) {
        let fraction = String(millis % 1000)
        self = "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
