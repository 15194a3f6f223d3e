import NIOCore
import Synchronization
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

/// The snapshot the UDP fast-path threads answer from.
///
/// A worker thread blocks in `recvmmsg`, so nothing can hop onto it: it
/// reads `version` (one atomic load) after every receive and takes the
/// lock only when a new snapshot was published. Because the load happens
/// after the datagrams arrived, a query sent after `publish` returned is
/// answered from the new snapshot (or a newer one).
final class UDPSnapshotSource: Sendable {
    private let current: Mutex<ZoneSnapshot>
    private let published = Atomic<UInt64>(0)

    init(_ snapshot: ZoneSnapshot) {
        current = Mutex(snapshot)
    }

    /// Counts publications; changes whenever `snapshot` may have.
    var version: UInt64 { published.load(ordering: .acquiring) }

    var snapshot: ZoneSnapshot { current.withLock { $0 } }

    /// Keeps the newer of the current and `snapshot`.
    func publish(_ snapshot: ZoneSnapshot) {
        current.withLock { if snapshot.generation >= $0.generation { $0 = snapshot } }
        published.add(1, ordering: .releasing)
    }
}

/// Hands each published snapshot to every loop's cache (and the UDP
/// threads' source) and returns once all of them serve it.
struct LoopSnapshotPublisher: SnapshotSubscriber {
    let caches: [SnapshotCache]
    var udp: UDPSnapshotSource? = nil

    func apply(_ snapshot: ZoneSnapshot) async {
        udp?.publish(snapshot)
        for cache in caches {
            try? await cache.eventLoop.submit { cache.update(snapshot) }.get()
        }
    }
}
