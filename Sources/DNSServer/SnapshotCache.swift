import NIOCore
import ZoneStore

/// The snapshot one event loop answers from.
///
/// Every handler on a loop reads the same cache, and the cache is written
/// only on that loop (`LoopSnapshotPublisher` hops there), so a query costs
/// one plain load: no lock, no atomic, no database read.
///
/// `@unchecked Sendable` is safe because `snapshot` is read and written only
/// on `eventLoop`, which every access asserts in debug builds; the instance
/// crosses threads only to reach that loop's channel initialisers.
final class SnapshotCache: @unchecked Sendable {
    let eventLoop: any EventLoop
    private var current: ZoneSnapshot

    init(eventLoop: any EventLoop, snapshot: ZoneSnapshot) {
        self.eventLoop = eventLoop
        self.current = snapshot
    }

    var snapshot: ZoneSnapshot {
        eventLoop.assertInEventLoop()
        return current
    }

    /// Keeps the newer of the current and `snapshot`.
    func update(_ snapshot: ZoneSnapshot) {
        eventLoop.assertInEventLoop()
        if snapshot.generation >= current.generation { current = snapshot }
    }
}

/// Hands each published snapshot to every loop's cache and returns once all
/// of them serve it.
struct LoopSnapshotPublisher: SnapshotSubscriber {
    let caches: [SnapshotCache]

    func apply(_ snapshot: ZoneSnapshot) async {
        for cache in caches {
            try? await cache.eventLoop.submit { cache.update(snapshot) }.get()
        }
    }
}
