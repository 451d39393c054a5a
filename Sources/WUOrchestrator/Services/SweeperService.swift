import Logging
import ServiceLifecycle
import WUProtocol

/// Requeues expired leases every `--requeue-sweep-seconds`; on graceful shutdown it stops the
/// scheduler's long-polls.
struct SweeperService: Service {
    let scheduler: Scheduler
    let interval: Duration

    func run() async throws {
        await withGracefulShutdownHandler {
            // Sweep at once: leases that expired while the server was down are requeued on start.
            var first = true
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if !first {
                    do {
                        try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
                    } catch {
                        break
                    }
                }
                first = false
                do {
                    let result = try await scheduler.sweep()
                    if result.requeued + result.failed > 0 {
                        scheduler.logger.info(
                            "requeued expired leases",
                            metadata: ["copies.requeued": "\(result.requeued)", "copies.failed": "\(result.failed)"]
                        )
                    }
                } catch {
                    scheduler.logger.info("sweep failed", metadata: ["error": "\(error)"])
                }
            }
        } onGracefulShutdown: {
            scheduler.shutdown()
            scheduler.events.finishAll()
        }
    }
}
