import DNSWire
import Synchronization

/// Where a `ZoneRecordStore` keeps its data durably. The store validates a
/// change, hands it to the backend, and applies and publishes it only once
/// `commit` has returned: what the store acknowledges survives a crash.
///
/// Every commit takes the next position of one change log that all
/// writers share (other processes, other replicas): a commit made from a
/// state that is behind is refused, and the store first applies what it
/// missed. So several writers never lose each other's changes, and every
/// replica applies the same changes in the same order.
public protocol StoreBackend: Sendable {
    /// Reads everything kept. Migrations ran when the backend opened.
    func load() async throws(ZoneStoreError) -> StoredState

    /// The change-log entries after `position`, oldest first; nil when the
    /// log no longer reaches back that far (then load everything).
    func changes(after position: Int64) async throws(ZoneStoreError) -> [LoggedChange]?

    /// Makes `change` durable as log entry `position + 1`, all of it or
    /// nothing, in one transaction. Returns false, writing nothing, when
    /// another writer took that position first.
    func commit(_ change: ChangeSet, after position: Int64) async throws(ZoneStoreError) -> Bool

    /// The journal of zone `origin`, oldest first: what IXFR answers from.
    func journal(origin: DNSName) async throws(ZoneStoreError) -> [ZoneDelta]

    /// Throws when the storage cannot be reached; for health checks. Never
    /// waits behind a write in progress.
    func checkHealth() async throws(ZoneStoreError)
}

extension StoreBackend {
    public func checkHealth() async throws(ZoneStoreError) {}
}

/// Keeps everything in memory: for tests and embedding, where data may die
/// with the process. Several stores sharing one instance behave like
/// replicas sharing a database.
public final class MemoryBackend: StoreBackend {
    private struct Contents {
        var rows: [String: [[SQLValue]: StoredItem]] = [:]
        var serials: [DNSName: UInt32] = [:]
        var log: [LoggedChange] = []
        var journals: [DNSName: [ZoneDelta]] = [:]
        var position: Int64 = 0
    }

    private let contents = Mutex(Contents())
    private let retention: StoreRetention

    public init(retention: StoreRetention = StoreRetention()) {
        self.retention = retention
    }

    public func load() async throws(ZoneStoreError) -> StoredState {
        contents.withLock { contents in
            var items: [StoredItem] = []
            for table in StoreSchema.itemTables {
                items += (contents.rows[table.name] ?? [:]).values
            }
            return StoredState(items: items, serials: contents.serials, position: contents.position)
        }
    }

    public func changes(after position: Int64) async throws(ZoneStoreError) -> [LoggedChange]? {
        contents.withLock { contents in
            guard position < contents.position else { return [] }
            guard let first = contents.log.first, first.position <= position + 1 else { return nil }
            return contents.log.filter { $0.position > position }
        }
    }

    public func commit(_ change: ChangeSet, after position: Int64) async throws(ZoneStoreError) -> Bool {
        let retention = retention
        return contents.withLock { contents in
            guard contents.position == position else { return false }
            for operation in change.operations {
                switch operation {
                case .put(let item):
                    contents.rows[StoreSchema.table(of: item).name, default: [:]][StoreSchema.key(of: item)] = item
                case .delete(let item):
                    contents.rows[StoreSchema.table(of: item).name]?[StoreSchema.key(of: item)] = nil
                }
            }
            contents.serials.merge(change.serials) { $1 }
            contents.position = position + 1
            contents.log.append(LoggedChange(position: position + 1, body: change.logged))
            if contents.log.count > retention.changes { contents.log.removeFirst(contents.log.count - retention.changes) }
            for delta in change.deltas {
                contents.journals[delta.origin, default: []].append(delta)
                if let count = contents.journals[delta.origin]?.count, count > retention.journalPerZone {
                    contents.journals[delta.origin]?.removeFirst(count - retention.journalPerZone)
                }
            }
            return true
        }
    }

    public func journal(origin: DNSName) async throws(ZoneStoreError) -> [ZoneDelta] {
        contents.withLock { $0.journals[origin] ?? [] }
    }
}
