import CUDPBatch
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The kernel ids of the threads answering queries (the UDP fast path's
/// workers, the event loops answering TCP), which ``BackgroundPriority``
/// leaves at their priority. Touched only when such a thread starts or ends.
public enum QueryThreads {
    private static let ids = Mutex<Set<Int32>>([])

    /// Marks the calling thread as one answering queries, until `unregister()`.
    static func register() {
        let id = cdns_gettid()
        guard id > 0 else { return }
        ids.withLock { _ = $0.insert(id) }
    }

    static func unregister() {
        let id = cdns_gettid()
        ids.withLock { _ = $0.remove(id) }
    }

    /// The ids registered now.
    public static var current: Set<Int32> { ids.withLock { $0 } }
}

/// Lowers the CPU priority (raises the nice value) of every thread of the
/// process except the query threads (``QueryThreads``): the API's event
/// loops, UPDATE and `/update` handling on the Swift task pool, the
/// store's writer, bcrypt. While the CPU is free
/// this changes nothing; when queries and updates compete for a core, the
/// queries get it first (at nice 19 the other threads get about 1.5 % of a
/// contended core, at 10 about 10 %), so a burst of UPDATEs or `/update`s
/// does not slow the answers every host depends on.
///
/// `DNSListener` runs it once its UDP threads exist (a thread inherits its
/// creator's nice value, and the kernel lets a process raise its threads'
/// nice value but not lower it again without CAP_SYS_NICE). A sweep every
/// `interval` over `/proc/self/task` catches threads started later. Linux
/// only.
public struct BackgroundPriority: Sendable {
    public let nice: Int32
    public let interval: Duration
    let logger: Logger

    public init(nice: Int, interval: Duration = .seconds(1), logger: Logger) {
        self.nice = Int32(min(max(nice, 0), 19))
        self.interval = interval
        self.logger = logger
    }

    /// Sweeps now and every `interval` until graceful shutdown.
    public func run() async {
        #if os(Linux)
        let changed = sweep()
        logger.info("threads other than the DNS query threads run at a lower priority", metadata: [
            "nice": "\(nice)", "threads": "\(changed)", "query_threads": "\(QueryThreads.current.count)",
        ])
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            sweep()
        }
        #else
        logger.notice("background_nice is supported on Linux only; every thread keeps its priority")
        try? await gracefulShutdown()
        #endif
    }

    /// Sets `nice` on every thread not answering queries; returns how many it changed.
    @discardableResult
    public func sweep() -> Int {
        #if os(Linux)
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return 0 }
        let query = QueryThreads.current
        var changed = 0
        for entry in tasks {
            guard let id = Int32(entry), !query.contains(id) else { continue }
            errno = 0
            let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(id))
            if errno == 0, current == nice { continue }
            if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(id), nice) == 0 { changed += 1 }
        }
        return changed
        #else
        return 0
        #endif
    }
}
