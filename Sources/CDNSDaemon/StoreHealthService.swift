import Logging
import Metrics
import ServiceLifecycle
import ZoneStore

/// Asks the store every `interval` whether its backend answers, records it
/// as `cdnsd_store_available` (1 or 0), and logs each change: while the
/// backend is away, DNS answers from the last snapshot and writes answer
/// 503; nothing needs restarting when it is back.
struct StoreHealthService: Service {
    let store: ZoneRecordStore
    var interval: Duration = .seconds(5)
    let logger: Logger

    func run() async throws {
        let gauge = Gauge(label: "cdnsd_store_available")
        var available = true
        gauge.record(1)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            var failure: ZoneStoreError? = nil
            do {
                try await store.checkHealth()
            } catch {
                failure = error
            }
            gauge.record(failure == nil ? 1 : 0)
            if let failure, available {
                logger.error("store unavailable: DNS answers from the last snapshot, writes answer 503", metadata: ["error": "\(failure)"])
            } else if failure == nil, !available {
                logger.notice("store available again")
            }
            available = failure == nil
        }
    }
}
