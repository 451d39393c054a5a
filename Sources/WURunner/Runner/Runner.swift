public import Logging
public import ServiceLifecycle
import WUClient
import Synchronization
import WUCore
import WUProtocol
import WUSandbox
#if canImport(Glibc)
import Glibc
#endif

/// The volunteer's daemon: register, then claim what fits the free part of the cap, run it, report it,
/// heartbeat with progress; on graceful shutdown stop claiming, drain, and release what is left.
public final class Runner: Service, Sendable {
    public let configuration: RunnerConfiguration
    let client: OrchestratorClient
    let logger: Logger
    private let state = Mutex(State())

    struct State {
        var running: [String: RunningUnit] = [:]
        /// Units that finished and are being uploaded and reported; their slots are already free.
        var reporting = 0
        var draining = false
        /// A second signal came: the drain timeout is cut short.
        var stoppingNow = false
        var runnerID: String?
        /// Names the next unit's directory: the runner names its own directories, never from an id the
        /// orchestrator sent (DESIGN.md, the runner protocol).
        var workspaces: UInt64 = 0
    }

    struct RunningUnit {
        var assignment: Assignment
        var workspace: UnitWorkspace
        var abort: AsyncStream<String>.Continuation
        /// Why it was stopped early: `aborted` (the orchestrator asked) or `released` (shutdown).
        var stoppedBecause: String?
    }

    public init(configuration: RunnerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.client = OrchestratorClient(
            baseURL: configuration.orchestratorURL, token: configuration.token, http: try OrchestratorClient.http(trustingCA: configuration.caFile)
        )
        self.logger = logger
    }

    /// The id the orchestrator gave this runner, once registered.
    public var runnerID: String? { state.withLock { $0.runnerID } }

    public func run() async throws {
        let unitsDirectory = configuration.workDirectory + "/units"
        // A previous run's leftovers: its cgroups go with the cap below, its unit directories here.
        FileIO.removeTree(unitsDirectory)
        // Traversable (not listable) by the unprivileged ids the sandbox maps units to, so their binds resolve.
        try FileIO.makeDirectories(unitsDirectory, mode: 0o711)
        chmod(configuration.workDirectory, 0o711)
        chmod(unitsDirectory, 0o711)
        try Self.checkTraversable(unitsDirectory)
        let cache = try BlobCache(directory: configuration.workDirectory + "/cache", budgetBytes: configuration.cacheBudgetBytes, client: client)
        // The cap is machine-wide (`wu/<name>` in the cgroup tree) and `create` sweeps whatever a
        // previous run left under that name: it must belong to this work directory, not only to the
        // runner's name, or a second runner with the same --name (the default: the host name) would
        // kill the first one's units.
        let readable = String(configuration.name.prefix(32).map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" })
        let workDirectory = Self.resolved(configuration.workDirectory) ?? configuration.workDirectory
        let capName = "runner-" + readable + "-" + String(Digest.sha256(Array(workDirectory.utf8)).prefix(12))
        let cap = try VolunteerCap.create(
            name: capName, limits: .init(memoryBytes: configuration.memoryBytes, millicpus: configuration.millicpus, pids: configuration.pids)
        )
        // Sandboxes of the built-in profiles are prepared ahead, as many as units may run at once,
        // so a claimed unit waits only for its own part of the setup.
        let sandboxes = SandboxPool(prepareAhead: configuration.maxUnits)
        defer {
            sandboxes.discardPrepared()
            cap.remove()
        }
        let executor = AssignmentExecutor(configuration: configuration, client: client, cache: cache, cap: cap, sandboxes: sandboxes, logger: logger)

        // The id from a previous run, if any: the orchestrator keeps this runner's reputation and
        // requeues at once what it held (its units died with it).
        let idFile = configuration.workDirectory + "/runner-id"
        let previousID = (try? FileIO.readFile(idFile, limit: 64)).map { String(decoding: $0, as: UTF8.self) }.flatMap { WireID.isValid($0) ? $0 : nil }
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        // The handler covers registration too: a runner with nothing running exits at once (DESIGN.md).
        try await withGracefulShutdownHandler {
            guard let registration = try await self.register(previousID: previousID) else { return }
            self.state.withLock { $0.runnerID = registration.runnerID }
            if registration.runnerID != previousID { try? Self.writeID(registration.runnerID, to: idFile) }
            self.logger.info(
                "registered",
                metadata: [
                    "runner.id": "\(registration.runnerID)", "cpus": "\(Double(self.configuration.millicpus) / 1000)",
                    "memory": "\(ByteSize.format(self.configuration.memoryBytes))", "disk": "\(ByteSize.format(self.configuration.diskBytes))",
                ]
            )
            await withDiscardingTaskGroup { group in
                group.addTask { await self.heartbeatLoop(runnerID: registration.runnerID, every: registration.heartbeatSeconds) }
                await self.claimLoop(runnerID: registration.runnerID, executor: executor, group: &group, wakeups: wakeups, wake: wake)
                await self.drain()
                group.cancelAll()  // ends the heartbeat loop's sleep; units were drained or released above
            }
        } onGracefulShutdown: {
            self.beginShutdown()
            wake.yield()
        }
        logger.info("stopped")
    }

    /// The first SIGTERM or SIGINT: no new claims; say what is still waited for, and how to stop it now.
    func beginShutdown() {
        let running = state.withLock { state in
            state.draining = true
            return state.running.keys.sorted()
        }
        if running.isEmpty {
            logger.info("shutting down: nothing is running")
        } else {
            logger.info(
                "shutting down: no new claims; waiting up to \(configuration.drainTimeoutSeconds) s for \(running.count) running unit(s) to finish, then releasing them; send SIGTERM or SIGINT again to stop them now",
                metadata: ["assignment.ids": "\(running.joined(separator: ","))"]
            )
        }
    }

    /// The second signal: stop every running unit now and release it (it is requeued without counting an attempt).
    public func stopNow() {
        let running = state.withLock { state in
            state.draining = true
            state.stoppingNow = true
            return Array(state.running.keys)
        }
        logger.info("second signal: stopping \(running.count) running unit(s) now and releasing them")
        for id in running { stop(id, because: FailRequest.released) }
    }

    /// `path` with its links and `..` resolved, or nil when it cannot be (it does not exist).
    static func resolved(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }

    /// The sandbox binds `/code`, `/in` and `/out` as the unit's unprivileged id: every directory above the
    /// unit directories must let others pass (`o+x`), or every unit fails at its mount stage.
    static func checkTraversable(_ path: String) throws {
        guard let resolved = resolved(path) else { return }
        var current = ""
        for component in resolved.split(separator: "/") {
            current += "/" + component
            var st = stat()
            guard stat(current, &st) == 0 else { continue }
            if st.st_mode & 0o001 == 0 {
                throw WUError(
                    .invalidArgument,
                    "the work directory is under \(current) (mode \(String(st.st_mode & 0o777, radix: 8))), which sandboxed units cannot pass through; choose a --work-dir outside it or run `chmod o+x \(current)`"
                )
            }
        }
    }

    static func writeID(_ id: String, to path: String) throws {
        let temporary = path + ".tmp"
        let fd = try FileIO.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        defer { close(fd) }
        try Array(id.utf8).withUnsafeBytes { try FileIO.writeAll(fd, $0, path: temporary) }
        rename(temporary, path)
    }

    /// Registers, retrying transient failures until it works or shutdown begins.
    func register(previousID: String?) async throws -> RegisterResponse? {
        var body = RegisterRequest(
            name: configuration.name, capacity: configuration.capacity, arch: configuration.arch, profiles: configuration.profiles,
            version: WUVersion.current, runnerID: previousID
        )
        var attempt = 0
        while !state.withLock({ $0.draining }) && !Task.isCancelled {
            do {
                let request = body
                return try await cancelWhenGracefulShutdown { try await self.client.register(request) }
            } catch is CancellationError {
                return nil
            } catch let error as ClientError where error.status == 403 && body.runnerID != nil {
                logger.info("the previous runner id is not ours any more; registering anew", metadata: ["error": "\(error)"])
                body.runnerID = nil
            } catch let error as ClientError where error.isTransient || error.isProtocolError {
                logger.info("cannot register yet, retrying", metadata: ["error": "\(error)"])
                let pause = Backoff.delay(attempt: attempt)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
                attempt += 1
            }
        }
        return nil
    }

    /// Claims while not draining, as long as a slot and some capacity are free.
    func claimLoop(
        runnerID: String, executor: AssignmentExecutor, group: inout DiscardingTaskGroup, wakeups: AsyncStream<Void>,
        wake: AsyncStream<Void>.Continuation
    ) async {
        var wakeupIterator = wakeups.makeAsyncIterator()
        var failures = 0
        while true {
            let (draining, free, slots) = state.withLock { state -> (Bool, Capacity, Int) in
                var free = configuration.capacity
                for unit in state.running.values { free = free.subtracting(unit.assignment.resources.capacity) }
                return (state.draining, free, configuration.maxUnits - state.running.count)
            }
            if draining { return }
            if slots <= 0 || free.millicpus <= 0 || free.memoryBytes <= 0 {
                _ = await wakeupIterator.next()
                continue
            }
            let claimed: [Assignment]
            do {
                let request = ClaimRequest(runnerID: runnerID, free: free, wait: configuration.claimWaitSeconds, max: slots)
                claimed = try await cancelWhenGracefulShutdown { try await self.client.claim(request) }.assignments
                failures = 0
            } catch is CancellationError {
                return
            } catch {
                logger.info("claim failed, backing off", metadata: ["error": "\(error)"])
                let pause = Backoff.delay(attempt: failures)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
                failures += 1
                continue
            }
            for assignment in acceptable(claimed, slots: slots, free: free) {
                let workspace: UnitWorkspace
                do {
                    let number = state.withLock { state in
                        state.workspaces += 1
                        return state.workspaces
                    }
                    workspace = try UnitWorkspace(root: configuration.workDirectory + "/units/\(number)")
                } catch {
                    await report(assignment, .failed(reason: "workspace", message: "\(error)", usage: nil), runnerID: runnerID)
                    continue
                }
                let (aborts, abort) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
                state.withLock { $0.running[assignment.assignmentID] = RunningUnit(assignment: assignment, workspace: workspace, abort: abort) }
                logger.info("claimed", metadata: ["assignment.id": "\(assignment.assignmentID)", "unit.id": "\(assignment.jobID)/\(assignment.unitID)"])
                group.addTask {
                    let outcome = await Self.racing({ await executor.execute(assignment, workspace: workspace) }, against: aborts)
                    workspace.remove()
                    // The slot is free once the unit is packed: uploading and reporting overlap the next unit.
                    let stopped = self.state.withLock { state in
                        state.reporting += 1
                        return state.running.removeValue(forKey: assignment.assignmentID)?.stoppedBecause
                    }
                    wake.yield()
                    var final = outcome
                    if let stopped {
                        if case .completed(_, _, let archive, _) = outcome { unlink(archive) }
                        final = .failed(reason: stopped, message: "stopped by the runner", usage: nil)
                    }
                    await self.report(assignment, final, runnerID: runnerID)
                    self.state.withLock { $0.reporting -= 1 }
                }
            }
        }
    }

    /// The assignments of a claim this runner takes: what it asked for and no more. An id it already
    /// runs (or one listed twice), or more assignments or more capacity than it offered, is a protocol
    /// error: logged, and those assignments are left alone (their leases expire).
    func acceptable(_ claimed: [Assignment], slots: Int, free: Capacity) -> [Assignment] {
        var taken: [Assignment] = []
        var left = free
        let running = state.withLock { Set($0.running.keys) }
        for assignment in claimed {
            let problem: String? =
                if running.contains(assignment.assignmentID) || taken.contains(where: { $0.assignmentID == assignment.assignmentID }) {
                    "its id is already in use"
                } else if taken.count >= slots {
                    "the claim asked for at most \(slots)"
                } else if !left.fits(assignment.resources.capacity) {
                    "it needs more than the free capacity the claim offered"
                } else { nil }
            if let problem {
                logger.info(
                    "protocol error: refused an assignment of the claim's answer: \(problem)",
                    metadata: ["assignment.id": "\(assignment.assignmentID)"]
                )
                continue
            }
            taken.append(assignment)
            left = left.subtracting(assignment.resources.capacity)
        }
        return taken
    }

    /// Runs `work`, cancelling it when `aborts` yields first.
    static func racing(_ work: @escaping @Sendable () async -> AssignmentOutcome, against aborts: AsyncStream<String>) async -> AssignmentOutcome {
        await withTaskGroup(of: AssignmentOutcome?.self) { group in
            group.addTask { await work() }
            group.addTask {
                for await reason in aborts { return .failed(reason: reason, message: "stopped by the runner", usage: nil) }
                return nil
            }
            var result: AssignmentOutcome?
            for await outcome in group {
                if let outcome, result == nil {
                    result = outcome
                    group.cancelAll()
                }
            }
            return result!
        }
    }

    /// Sends the outcome; retries transient errors so an acknowledged result is never lost to a blip.
    func report(_ assignment: Assignment, _ outcome: AssignmentOutcome, runnerID: String) async {
        let id = assignment.assignmentID
        do {
            switch outcome {
            case .completed(let outputDigest, let blobDigest, let archive, let usage):
                defer { unlink(archive) }
                try await Backoff.retrying(attempts: 40, logger: logger, "upload") { try await self.client.uploadBlob(blobDigest, from: archive) }
                let body = CompleteRequest(runnerID: runnerID, outputDigest: outputDigest, blobDigest: blobDigest, usage: usage)
                do {
                    let ack = try await Backoff.retrying(attempts: 40, logger: logger, "complete") { try await self.client.complete(assignment: id, body) }
                    logger.info("completed", metadata: ["assignment.id": "\(id)", "copy.state": "\(ack.copyState)", "wall_ms": "\(usage.wallMs)"])
                } catch let error as ClientError where error.status == 422 {
                    // The orchestrator checked the archive and refused it: retrying cannot help, a failure is the truth.
                    logger.warning(
                        "the orchestrator refused the output",
                        metadata: ["assignment.id": "\(id)", "output.digest": "\(outputDigest)", "blob.digest": "\(blobDigest)", "refusal": "\(error)"]
                    )
                    try await fail(id, runnerID: runnerID, reason: AssignmentOutcome.outputInvalid, message: "the orchestrator refused the output: \(error.message)", usage: usage)
                }
            case .failed(let reason, let message, let usage):
                try await fail(id, runnerID: runnerID, reason: reason, message: message, usage: usage)
            }
        } catch let error as ClientError where error.status != nil {
            let what = if case .completed = outcome { "the completion" } else { "the failure" }
            logger.warning(
                "the orchestrator refused \(what); the lease will expire and the copy be requeued",
                metadata: ["assignment.id": "\(id)", "refusal": "\(error)"]
            )
        } catch {
            logger.info("could not report the outcome; the lease will expire and the copy be requeued", metadata: ["assignment.id": "\(id)", "error": "\(error)"])
        }
    }

    /// Reports a failed copy, retrying transient errors.
    func fail(_ id: String, runnerID: String, reason: String, message: String, usage: ResourceUsage?) async throws {
        let body = FailRequest(runnerID: runnerID, reason: reason, message: String(message.prefix(2000)), usage: usage)
        let ack = try await Backoff.retrying(attempts: 40, logger: logger, "fail") { try await self.client.fail(assignment: id, body) }
        logger.info("failed", metadata: ["assignment.id": "\(id)", "reason": "\(reason)", "copy.state": "\(ack.copyState)"])
    }

    /// Heartbeats with progress until the runner stops; aborts what the orchestrator says to abort.
    func heartbeatLoop(runnerID: String, every seconds: Int) async {
        // The answer to register was checked (1 s to a day); clamped again so nothing else can spin or overflow the sleep.
        let period = Duration.seconds(min(max(1, seconds), RegisterResponse.maxSeconds))
        while true {
            try? await Task.sleep(for: period)
            if Task.isCancelled { return }
            let (items, done) = state.withLock { state in
                (state.running.values.map { HeartbeatRequest.Item(assignmentID: $0.assignment.assignmentID, progress: $0.workspace.readProgress()) },
                 state.draining && state.running.isEmpty)
            }
            if done { return }
            do {
                let answer = try await client.heartbeat(HeartbeatRequest(runnerID: runnerID, assignments: items))
                for id in answer.abort { stop(id, because: "aborted") }
            } catch {
                logger.info("heartbeat failed", metadata: ["error": "\(error)"])
            }
        }
    }

    func stop(_ assignmentID: String, because reason: String) {
        state.withLock { state in
            guard var unit = state.running[assignmentID], unit.stoppedBecause == nil else { return }
            unit.stoppedBecause = reason
            unit.abort.yield(reason)
            state.running[assignmentID] = unit
        }
        logger.info("stopping unit", metadata: ["assignment.id": "\(assignmentID)", "reason": "\(reason)"])
    }

    /// Gives running units the drain timeout, then releases them (they are requeued without counting an
    /// attempt) and waits a little for those `released` reports to go out.
    func drain() async {
        await waitUntilIdle(for: .seconds(configuration.drainTimeoutSeconds), untilStoppedNow: true)
        let left = state.withLock { Array($0.running.keys) }
        for id in left { stop(id, because: FailRequest.released) }
        await waitUntilIdle(for: .seconds(15))
    }

    /// - Parameter untilStoppedNow: also return when a second signal asks to stop now.
    func waitUntilIdle(for limit: Duration, untilStoppedNow: Bool = false) async {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, !state.withLock({ $0.running.isEmpty && $0.reporting == 0 }) {
            if untilStoppedNow && state.withLock({ $0.stoppingNow }) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
