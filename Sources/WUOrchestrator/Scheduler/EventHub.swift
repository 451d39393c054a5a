import Synchronization

/// Fans events out to `GET /v1/events` subscribers, each filtered by its caller's role.
///
/// A slow subscriber loses the oldest events rather than slowing the scheduler.
final class EventHub: Sendable {
    private struct State {
        var nextID: UInt64 = 0
        var subscribers: [UInt64: (Identity, AsyncStream<(UInt64, OrchestratorEvent)>.Continuation)] = [:]
        var eventID: UInt64 = 0
    }

    private let state = Mutex(State())

    func publish(_ event: OrchestratorEvent) {
        state.withLock { s in
            s.eventID += 1
            for (identity, continuation) in s.subscribers.values where Self.visible(event, to: identity) {
                continuation.yield((s.eventID, event))
            }
        }
    }

    /// A stream of the events `identity` may see; it ends when the subscriber stops iterating.
    func subscribe(_ identity: Identity) -> AsyncStream<(UInt64, OrchestratorEvent)> {
        let (stream, continuation) = AsyncStream<(UInt64, OrchestratorEvent)>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            s.subscribers[s.nextID] = (identity, continuation)
            return s.nextID
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Ends every subscription (graceful shutdown).
    func finishAll() {
        let continuations = state.withLock { s in
            let all = s.subscribers.values.map(\.1)
            s.subscribers = [:]
            return all
        }
        for continuation in continuations { continuation.finish() }
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    static func visible(_ event: OrchestratorEvent, to identity: Identity) -> Bool {
        switch identity.role {
        case .admin: true
        case .requester: event.owner == identity.name
        case .runner: event.runnerTokenIDs.contains(identity.tokenID)
        }
    }
}
