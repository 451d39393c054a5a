import Hummingbird
import NIOCore
import Synchronization

/// Bounds failed token attempts per client address, as fail2ban or nginx's `limit_req` would: an
/// address that fails authentication `limit` times within a minute gets `429 too-many-failures`
/// for every request until that minute is over, before any token is looked up.
///
/// Why per address and only failures: a valid token never counts, so volunteers behind one NAT are
/// not limited by how many they are, only when one of them keeps presenting a bad token. Tokens
/// are 256-bit, so this is not what stops guessing; it keeps a client that hammers the server with
/// bad credentials from costing a hash and a store read per request.
final class FailedAuthLimiter: Sendable {
    struct Window {
        var start: Int64
        var failures: Int
    }

    let limit: Int
    let windowMillis: Int64 = 60_000
    /// Addresses with failures in their current window; pruned when it grows past `maxTracked`.
    private let windows = Mutex<[String: Window]>([:])
    private let maxTracked = 65_536

    init(limit: Int) { self.limit = limit }

    /// Whether any address has failed lately: while none has, requests skip the lookup by address.
    var isTracking: Bool { windows.withLock { !$0.isEmpty } }

    /// Whether `address` has used up its failures; if so, how many seconds until its window ends.
    func blocked(_ address: String, now: Int64) -> Int? {
        windows.withLock { windows in
            guard let window = windows[address], now - window.start < windowMillis, window.failures >= limit else { return nil }
            return Int((window.start + windowMillis - now + 999) / 1000)
        }
    }

    func recordFailure(_ address: String, now: Int64) {
        windows.withLock { windows in
            if windows.count >= maxTracked { windows = windows.filter { now - $0.value.start < windowMillis } }
            var window = windows[address] ?? Window(start: now, failures: 0)
            if now - window.start >= windowMillis { window = Window(start: now, failures: 0) }
            window.failures += 1
            windows[address] = window
        }
    }
}

/// The middleware face of `FailedAuthLimiter`: refuses blocked addresses, counts every 401.
struct FailedAuthMiddleware: RouterMiddleware {
    typealias Context = OrchestratorRequestContext
    let limiter: FailedAuthLimiter
    let clock: any OrchestratorClock

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // No address (an in-process test channel) is never limited.
        guard context.peer != nil else { return try await next(request, context) }
        if limiter.isTracking, let address = context.clientAddress, let seconds = limiter.blocked(address, now: clock.now()) {
            throw APIError(
                .tooManyRequests, "too-many-failures",
                "too many failed token attempts from \(address): try again in \(seconds) s with a valid token",
                retryAfterSeconds: seconds
            )
        }
        do {
            return try await next(request, context)
        } catch let error as APIError where error.status == .unauthorized {
            if let address = context.clientAddress { limiter.recordFailure(address, now: clock.now()) }
            throw error
        }
    }
}
