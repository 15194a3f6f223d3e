import DNSWire
import Synchronization

/// Where a `ZoneRecordStore` keeps its data durably. The store validates a
/// change, hands it to the backend, and applies and publishes it only once
/// `commit` has returned: what the store acknowledges survives a crash.
///
/// Every commit takes the next position of one change log that all
/// writers share (other processes, other replicas). A commit holds the
/// writers' lock while it works out its change on top of what the others
/// committed since the store last looked, so several writers never lose
/// each other's changes, never retry, and every replica applies the same
/// changes in the same order.
public protocol StoreBackend: Sendable {
    /// Reads the items of `tables` (every item table: everything kept),
    /// with the serials and the change-log position. Migrations ran when
    /// the backend opened.
    func load(tables: [StoreSchema.Table]) async throws(ZoneStoreError) -> StoredState

    /// The change-log entries after `position`, oldest first; nil when the
    /// log no longer reaches back that far (then load everything).
    func changes(after position: Int64) async throws(ZoneStoreError) -> [LoggedChange]?

    /// In one transaction under the writers' lock: reads the entries
    /// committed after `position`, lets `prepare` work out the change on
    /// top of them, and makes that change durable as the next entry, all of
    /// it or nothing. A nil change writes nothing. Returns `prepare`'s
    /// outcome, or nil without calling it when the log no longer reaches
    /// back to `position` (load everything, then commit again).
    func commit<Outcome: Sendable>(after position: Int64, _ prepare: @escaping CommitPreparation<Outcome>) async throws(ZoneStoreError) -> Outcome?

    /// The journal of zone `origin`, oldest first: what IXFR answers from.
    func journal(origin: DNSName) async throws(ZoneStoreError) -> [ZoneDelta]

    /// The journal of `origin` from the newest entry that starts at
    /// `serial` on, oldest first; empty when no entry starts there. An
    /// IXFR reads only what the secondary lacks, not a large import
    /// journalled long before.
    func journal(origin: DNSName, since serial: UInt32) async throws(ZoneStoreError) -> [ZoneDelta]

    /// Throws when the storage cannot be reached; for health checks. Never
    /// waits behind a write in progress.
    func checkHealth() async throws(ZoneStoreError)
}

/// Works out a commit from the change-log entries other writers made since
/// the committing store's position (often none).
public typealias CommitPreparation<Outcome> = @Sendable (_ missed: [LoggedChange]) throws(ZoneStoreError) -> (change: ChangeSet?, outcome: Outcome)

extension StoreBackend {
    /// Reads everything kept.
    public func load() async throws(ZoneStoreError) -> StoredState {
        try await load(tables: StoreSchema.itemTables)
    }

    public func checkHealth() async throws(ZoneStoreError) {}

    public func journal(origin: DNSName, since serial: UInt32) async throws(ZoneStoreError) -> [ZoneDelta] {
        let journal = try await journal(origin: origin)
        guard let start = journal.lastIndex(where: { $0.fromSerial == serial }) else { return [] }
        return Array(journal[start...])
    }
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

    public func load(tables: [StoreSchema.Table]) async throws(ZoneStoreError) -> StoredState {
        contents.withLock { contents in
            var items: [StoredItem] = []
            for table in tables {
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

    public func commit<Outcome: Sendable>(after position: Int64, _ prepare: @escaping CommitPreparation<Outcome>) async throws(ZoneStoreError) -> Outcome? {
        let retention = retention
        return try contents.withLock { contents throws(ZoneStoreError) -> Outcome? in
            guard position >= contents.position || contents.log.first.map({ $0.position <= position + 1 }) == true else { return nil }
            let (change, outcome) = try prepare(contents.log.filter { $0.position > position })
            guard let change else { return outcome }
            for operation in change.operations {
                switch operation {
                case .put(let item):
                    contents.rows[StoreSchema.table(of: item).name, default: [:]][StoreSchema.key(of: item)] = item
                case .delete(let item):
                    contents.rows[StoreSchema.table(of: item).name]?[StoreSchema.key(of: item)] = nil
                }
            }
            contents.serials.merge(change.serials) { $1 }
            contents.position += 1
            contents.log.append(LoggedChange(position: contents.position, body: change.logged))
            if contents.log.count > retention.changes { contents.log.removeFirst(contents.log.count - retention.changes) }
            for delta in change.deltas {
                contents.journals[delta.origin, default: []].append(delta)
                if let count = contents.journals[delta.origin]?.count, count > retention.journalPerZone {
                    contents.journals[delta.origin]?.removeFirst(count - retention.journalPerZone)
                }
            }
            return outcome
        }
    }

    public func journal(origin: DNSName) async throws(ZoneStoreError) -> [ZoneDelta] {
        contents.withLock { $0.journals[origin] ?? [] }
    }
}
