import ZoneStore

/// The statements that write one commit's change set, with as few round
/// trips as PostgreSQL allows: the change-log entry, the rows, the serials,
/// the journal and the NOTIFY go in one statement of data-modifying `WITH`
/// clauses.
///
/// Every row operation is an upsert or a delete by primary key, so of
/// several on one row only the last counts, and only that one is written
/// (a batch of acme-dns updates rewrites the same challenge rows). Account
/// operations are the exception: a subdomain is unique across accounts, so
/// their order matters beyond their own rows, and they are all kept.
/// Clauses of one statement run in no defined order, so rows go into it
/// only when the parameters fit and the account operations are on distinct
/// accounts and do not both remove and add; otherwise the row operations
/// run one by one, in order, first.
struct CommitStatements {
    /// SQL with `$n` parameters, and the values.
    struct Statement {
        var sql: String
        var parameters: [SQLValue]
    }

    private(set) var statements: [Statement] = []

    /// The most parameters one combined statement carries (PostgreSQL allows 65,535).
    static let parameterLimit = 20_000

    /// The statements for a transaction that already holds the writers'
    /// lock and has read the entries it missed (the slow path).
    init(position: Int64, createdAt: Int64, change: ChangeSet, channel: String, replicaID: String) {
        let rows = Self.rows(change)
        let combined = Self.combinable(rows)
        if !combined {
            statements = rows.map { Statement(sql: $0.sql(1, nil), parameters: $0.values) }
        }
        statements.append(Self.statement(position: position, createdAt: createdAt, change: change, rows: combined ? rows : [],
                                         channel: channel, replicaID: replicaID, lockKey: nil))
    }

    /// The whole commit as one statement, its own transaction: it takes
    /// the writers' lock before any of its writes (every clause reads the
    /// lock's row), so concurrent writers queue instead of deadlocking on
    /// rows they share, and its change-log entry at `position` fails with a
    /// unique violation when another writer committed that position first
    /// (the caller then takes the slow path). One round trip instead of
    /// five; nil when the rows cannot share one statement.
    static func single(position: Int64, createdAt: Int64, change: ChangeSet, channel: String, replicaID: String, lockKey: Int64) -> Statement? {
        let rows = rows(change)
        guard combinable(rows) else { return nil }
        return statement(position: position, createdAt: createdAt, change: change, rows: rows, channel: channel, replicaID: replicaID, lockKey: lockKey)
    }

    /// One row operation: its SQL with parameters numbered from the first
    /// argument (after the second's lock, if any), the values, the row it
    /// touches, and whether it deletes that row.
    private typealias Row = (sql: (Int, String?) -> String, values: [SQLValue], key: [SQLValue], table: String, deletes: Bool)

    private static func rows(_ change: ChangeSet) -> [Row] {
        let all = change.operations.map { operation -> Row in
            switch operation {
            case .put(let item):
                let table = StoreSchema.table(of: item)
                return ({ table.upsert(numberedFrom: $0, after: $1) }, StoreSchema.row(of: item), StoreSchema.key(of: item), table.name, false)
            case .delete(let item):
                let table = StoreSchema.table(of: item)
                return ({ table.delete(numberedFrom: $0, after: $1) }, StoreSchema.key(of: item), StoreSchema.key(of: item), table.name, true)
            }
        }
        var seen: Set<[SQLValue]> = []
        return all.reversed().filter { $0.table == StoreSchema.accounts.name || seen.insert([.text($0.table)] + $0.key).inserted }.reversed()
    }

    /// Whether the rows can be clauses of one statement.
    private static func combinable(_ rows: [Row]) -> Bool {
        let accounts = rows.filter { $0.table == StoreSchema.accounts.name }
        let distinctAccounts = Set(accounts.map(\.key)).count == accounts.count
        let putsAndDeletesAccounts = accounts.contains { !$0.deletes } && accounts.contains(where: \.deletes)
        return distinctAccounts && !putsAndDeletesAccounts && rows.reduce(0) { $0 + $1.values.count } <= parameterLimit
    }

    private static func statement(position: Int64, createdAt: Int64, change: ChangeSet, rows: [Row], channel: String, replicaID: String,
                                  lockKey: Int64?) -> Statement {
        let lock = lockKey.map { _ in "l" }
        var clauses: [String] = []
        var parameters: [SQLValue] = []
        func add(_ make: (Int) -> String, _ values: [SQLValue]) {
            clauses.append(make(parameters.count + 1))
            parameters += values
        }
        func values(_ first: Int, _ count: Int) -> String {
            StoreSchema.rowSource((first..<first + count).map { "$\($0)" }.joined(separator: ", "), after: lock)
        }
        for row in rows { add({ row.sql($0, lock) }, row.values) }
        add({ "INSERT INTO changes (position, created_at, body) \(values($0, 3))" },
            [.integer(position), .integer(createdAt), .text(StoreSchema.encode(change.logged))])
        for (origin, serial) in change.serials {
            add({ "INSERT INTO zone_serials (origin, serial) \(values($0, 2)) ON CONFLICT (origin) DO UPDATE SET serial = excluded.serial" },
                [.text(origin.lowercased().description), .integer(Int64(serial))])
        }
        for delta in change.deltas {
            add({ "INSERT INTO zone_journal (origin, position, from_serial, to_serial, created_at, removed, added) \(values($0, 7))" },
                [.text(delta.origin.lowercased().description), .integer(position), .integer(Int64(delta.fromSerial)),
                 .integer(Int64(delta.toSerial)), .integer(delta.createdAt), .text(StoreSchema.journalText(delta.removed)),
                 .text(StoreSchema.journalText(delta.added))])
        }
        let notify = parameters.count + 1
        parameters += [.text(channel), .text(replicaID)]
        var with = clauses.enumerated().map { "w\($0) AS (\($1))" }
        if let lockKey { with.insert("l AS (SELECT pg_advisory_xact_lock(\(lockKey)))", at: 0) }
        return Statement(sql: "WITH \(with.joined(separator: ", ")) SELECT pg_notify($\(notify), $\(notify + 1))\(lock.map { " FROM \($0)" } ?? "")",
                         parameters: parameters)
    }
}
