import Foundation
import Logging
import ServiceLifecycle
import ZoneStore

/// Removes challenge TXT records older than `[challenge] expire_after`, so
/// that cleanups a client forgot do not pile up. Checks every `interval`.
struct ChallengeExpiryService: Service {
    let store: ZoneRecordStore
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let removed = try await store.removeExpiredChallenges(now: Int64(Date().timeIntervalSince1970))
                if removed > 0 { logger.info("expired challenge records removed", metadata: ["count": "\(removed)"]) }
            } catch {
                logger.error("expiring challenge records failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
