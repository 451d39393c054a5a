import WUClient
import Logging

/// Exponential backoff with full jitter for calls to the orchestrator.
enum Backoff {
    /// The delay before retry `attempt` (0-based): random in 0…min(cap, base·2^attempt).
    static func delay(attempt: Int, baseMs: Int = 250, capMs: Int = 30_000) -> Duration {
        let ceiling = min(capMs, baseMs << min(attempt, 16))
        return .milliseconds(Int.random(in: ceiling / 2...max(ceiling / 2, ceiling)))
    }

    /// Retries `body` while it fails with a transient `ClientError`, up to `attempts` times.
    static func retrying<T: Sendable>(
        attempts: Int = 12, logger: Logger, _ what: String, _ body: @Sendable () async throws -> T
    ) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as ClientError where error.isTransient && attempt + 1 < attempts {
                logger.info("\(what) failed, retrying", metadata: ["attempt": "\(attempt + 1)", "error": "\(error)"])
                try await Task.sleep(for: delay(attempt: attempt))
                attempt += 1
            }
        }
    }
}
