import DNSWire
import Dispatch

/// The embedded default: one SQLite file, created on first start, WAL mode,
/// versioned migrations run once when it opens, `synchronous = FULL` so
/// that every acknowledged change is on disk.
///
/// SQLite blocks (fsync, waiting for another process's write lock), so it
/// never runs on Swift's cooperative thread pool: one connection writes on
/// a serial queue of its own, another reads on a second one (WAL lets it
/// read while a write is in progress), and async callers wait on a
/// continuation.
public final class SQLiteBackend: StoreBackend {
    private let writer: SQLiteWorker
    private let reader: SQLiteWorker
    private let retention: StoreRetention
    public let path: String

    /// Opens or creates the database at `path` (its directory must exist)
    /// and brings its schema up to date. Refuses a file that is not a
    /// cdnsd database or is newer than this cdnsd.
    public init(path: String, retention: StoreRetention = StoreRetention()) throws(ZoneStoreError) {
        self.path = path
        self.retention = retention
        let writing = try SQLiteConnection(path: path)
        try Self.migrate(writing)
        writer = SQLiteWorker(writing, label: "cdnsd.sqlite.writer")
        reader = SQLiteWorker(try SQLiteConnection(path: path), label: "cdnsd.sqlite.reader")
    }

    private static func migrate(_ connection: SQLiteConnection) throws(ZoneStoreError) {
        let tables = try connection.run("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text }
        if !tables.isEmpty && !tables.contains("schema_version") {
            throw ZoneStoreError(.storage, "\(connection.path) is an SQLite database of something else (tables \(tables.joined(separator: ", "))); not touching it")
        }
        try connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        let version = Int(try connection.run("SELECT max(version) FROM schema_version").first?.first?.integer ?? 0)
        guard version <= StoreSchema.migrations.count else {
            throw ZoneStoreError(.storage, "\(connection.path) has schema version \(version), newer than this cdnsd (\(StoreSchema.migrations.count)); use a newer cdnsd")
        }
        for (index, migration) in StoreSchema.migrations.enumerated().dropFirst(version) {
            try connection.transaction { () throws(ZoneStoreError) in
                try connection.execute(migration)
                try connection.run("INSERT INTO schema_version (version) VALUES (?)", [.integer(Int64(index + 1))])
            }
        }
    }

    public func load(tables: [StoreSchema.Table]) async throws(ZoneStoreError) -> StoredState {
        try await reader.run { connection throws(ZoneStoreError) in
            try connection.transaction(immediate: false) { () throws(ZoneStoreError) -> StoredState in
                var state = StoredState()
                state.position = try Self.position(connection)
                for table in tables {
                    for row in try connection.run(table.selectAll) {
                        state.items.append(try StoreSchema.item(table, row: row))
                    }
                }
                for row in try connection.run("SELECT origin, serial FROM zone_serials") {
                    if let text = row[0].text, let origin = try? DNSName(text), let serial = row[1].integer {
                        state.serials[origin] = UInt32(truncatingIfNeeded: serial)
                    }
                }
                return state
            }
        }
    }

    static func position(_ connection: SQLiteConnection) throws(ZoneStoreError) -> Int64 {
        try connection.run("SELECT coalesce(max(position), 0) FROM changes").first?.first?.integer ?? 0
    }

    public func changes(after position: Int64) async throws(ZoneStoreError) -> [LoggedChange]? {
        try await reader.run { connection throws(ZoneStoreError) -> [LoggedChange]? in
            try connection.transaction(immediate: false) { () throws(ZoneStoreError) -> [LoggedChange]? in try Self.changes(after: position, connection) }
        }
    }

    /// The entries after `position`, or nil when the log no longer reaches
    /// back. One range read on the position index: asking for min() and
    /// max() of the log in one query would scan the whole index, on every
    /// commit and every catch-up.
    private static func changes(after position: Int64, _ connection: SQLiteConnection) throws(ZoneStoreError) -> [LoggedChange]? {
        var changes: [LoggedChange] = []
        for row in try connection.run("SELECT position, body FROM changes WHERE position > ? ORDER BY position", [.integer(position)]) {
            guard let at = row[0].integer, let body = row[1].text else { throw ZoneStoreError(.storage, "unreadable change-log row in \(connection.path)") }
            if changes.isEmpty && at != position + 1 { return nil }
            changes.append(LoggedChange(position: at, body: try StoreSchema.decode(body)))
        }
        return changes
    }

    public func commit<Outcome: Sendable>(after position: Int64, _ prepare: @escaping CommitPreparation<Outcome>) async throws(ZoneStoreError) -> Outcome? {
        let retention = retention
        return try await writer.run { connection throws(ZoneStoreError) -> Outcome? in
            try connection.transaction { () throws(ZoneStoreError) -> Outcome? in
                guard let missed = try Self.changes(after: position, connection) else { return nil }
                let (change, outcome) = try prepare(missed)
                guard let change else { return outcome }
                let next = position + Int64(missed.count) + 1
                let now = ZoneRecordStore.now()
                try connection.run("INSERT INTO changes (position, created_at, body) VALUES (?, ?, ?)",
                                   [.integer(next), .integer(now), .text(StoreSchema.encode(change.logged))])
                for operation in change.operations {
                    switch operation {
                    case .put(let item):
                        try connection.run(StoreSchema.table(of: item).upsert(.question), StoreSchema.row(of: item))
                    case .delete(let item):
                        try connection.run(StoreSchema.table(of: item).delete(.question), StoreSchema.key(of: item))
                    }
                }
                for (origin, serial) in change.serials {
                    try connection.run("INSERT INTO zone_serials (origin, serial) VALUES (?, ?) ON CONFLICT (origin) DO UPDATE SET serial = excluded.serial",
                                       [.text(origin.lowercased().description), .integer(Int64(serial))])
                }
                for delta in change.deltas {
                    try connection.run(
                        "INSERT INTO zone_journal (origin, position, from_serial, to_serial, created_at, removed, added) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [.text(delta.origin.lowercased().description), .integer(next), .integer(Int64(delta.fromSerial)),
                         .integer(Int64(delta.toSerial)), .integer(delta.createdAt), .text(StoreSchema.journalText(delta.removed)),
                         .text(StoreSchema.journalText(delta.added))])
                }
                if next % 64 == 0 {
                    try Self.trim(connection, newest: next, retention: retention, now: now)
                }
                return outcome
            }
        }
    }

    /// Drops change-log entries and journal entries beyond what `retention` keeps.
    private static func trim(_ connection: SQLiteConnection, newest: Int64, retention: StoreRetention, now: Int64) throws(ZoneStoreError) {
        try connection.run("DELETE FROM changes WHERE position <= ?", [.integer(newest - Int64(retention.changes))])
        try connection.run("DELETE FROM zone_journal WHERE created_at < ?", [.integer(now - retention.journalMaxAge)])
        for row in try connection.run("SELECT origin, count(*) FROM zone_journal GROUP BY origin") {
            guard let origin = row[0].text, let count = row[1].integer, count > Int64(retention.journalPerZone) else { continue }
            try connection.run(
                "DELETE FROM zone_journal WHERE origin = ? AND position <= (SELECT position FROM zone_journal WHERE origin = ? ORDER BY position DESC LIMIT 1 OFFSET ?)",
                [.text(origin), .text(origin), .integer(Int64(retention.journalPerZone))])
        }
    }

    public func journal(origin: DNSName) async throws(ZoneStoreError) -> [ZoneDelta] {
        try await reader.run { connection throws(ZoneStoreError) -> [ZoneDelta] in
            try connection.run(StoreSchema.journalSelect(placeholder: "?"), [.text(origin.lowercased().description)]).map {
                row throws(ZoneStoreError) in try StoreSchema.journalDelta(origin: origin, row: row)
            }
        }
    }

    public func journal(origin: DNSName, since serial: UInt32) async throws(ZoneStoreError) -> [ZoneDelta] {
        let key = SQLValue.text(origin.lowercased().description)
        return try await reader.run { connection throws(ZoneStoreError) -> [ZoneDelta] in
            try connection.run(StoreSchema.journalSinceSelect(placeholders: ["?", "?", "?"]), [key, key, .integer(Int64(serial))]).map {
                row throws(ZoneStoreError) in try StoreSchema.journalDelta(origin: origin, row: row)
            }
        }
    }

    public func checkHealth() async throws(ZoneStoreError) {
        _ = try await reader.run { connection throws(ZoneStoreError) in try connection.run("SELECT count(*) FROM schema_version") }
    }

    /// Changes whenever another connection (this backend's writer, or
    /// another process such as `cdnsd credential add`) commits to the
    /// file; the daemon polls it and catches up.
    public func dataVersion() async throws(ZoneStoreError) -> Int64 {
        try await reader.run { connection throws(ZoneStoreError) -> Int64 in
            try connection.run("PRAGMA data_version").first?.first?.integer ?? 0
        }
    }
}

/// One SQLite connection and the serial dispatch queue it is used on.
///
/// `@unchecked Sendable` is safe because the connection is only touched in
/// blocks running on `queue`, which runs one at a time.
final class SQLiteWorker: @unchecked Sendable {
    private let connection: SQLiteConnection
    private let queue: DispatchQueue

    init(_ connection: SQLiteConnection, label: String) {
        self.connection = connection
        queue = DispatchQueue(label: label)
    }

    /// Runs `body` on the queue and waits for it without blocking a thread.
    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws(ZoneStoreError) -> T) async throws(ZoneStoreError) -> T {
        let result = await withCheckedContinuation { (done: CheckedContinuation<Result<T, ZoneStoreError>, Never>) in
            queue.async { [self] in
                done.resume(returning: Result { () throws(ZoneStoreError) -> T in try body(connection) })
            }
        }
        return try result.get()
    }
}
