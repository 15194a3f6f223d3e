import Foundation
import Logging
import ServiceLifecycle
import ZoneStore

/// Removes challenge TXT records older than `[challenge] expire_after`, so
/// that cleanups a client forgot do not pile up. Checks every `interval`.
/// Goes by `ExpiryClock`: a wall clock that jumps forward does not expire
/// every live challenge at once.
struct ChallengeExpiryService: Service {
    let store: ZoneRecordStore
    let interval: Duration
    let logger: Logger
    var clock = ExpiryClock()

    func run() async throws {
        var warned = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let (now, jump) = clock.now()
                if abs(jump) > 60, !warned {
                    warned = true
                    logger.warning("the system clock moved against the monotonic clock; challenges expire by the monotonic one", metadata: ["seconds": "\(jump)"])
                }
                let removed = try await store.removeExpiredChallenges(now: now)
                if removed > 0 { logger.info("expired challenge records removed", metadata: ["count": "\(removed)"]) }
            } catch {
                logger.error("expiring challenge records failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
