import ZoneStore

/// The statements that write one commit's change set, with as few round
/// trips as PostgreSQL allows: the change-log entry, the rows, the serials,
/// the journal and the NOTIFY go in one statement of data-modifying `WITH`
/// clauses. The advisory lock and the read of missed entries stay separate
/// statements before it, so that their snapshot follows the lock.
///
/// Clauses of one statement run in no defined order, so rows go into it
/// only when no two operations touch the same row and the parameters fit;
/// otherwise the row operations run one by one, in order, first.
struct CommitStatements {
    /// SQL with `$n` parameters, and the values.
    struct Statement {
        var sql: String
        var parameters: [SQLValue]
    }

    private(set) var statements: [Statement] = []

    /// The most parameters one combined statement carries (PostgreSQL allows 65,535).
    static let parameterLimit = 20_000

    init(position: Int64, createdAt: Int64, change: ChangeSet, channel: String, replicaID: String) {
        var clauses: [String] = []
        var parameters: [SQLValue] = []
        func add(_ make: (Int) -> String, _ values: [SQLValue]) {
            clauses.append(make(parameters.count + 1))
            parameters += values
        }
        let rows = change.operations.map { operation -> (sql: (Int) -> String, values: [SQLValue], key: [SQLValue], table: String) in
            switch operation {
            case .put(let item):
                let table = StoreSchema.table(of: item)
                return ({ table.upsert(numberedFrom: $0) }, StoreSchema.row(of: item), StoreSchema.key(of: item), table.name)
            case .delete(let item):
                let table = StoreSchema.table(of: item)
                return ({ table.delete(numberedFrom: $0) }, StoreSchema.key(of: item), StoreSchema.key(of: item), table.name)
            }
        }
        var keys: Set<[SQLValue]> = []
        let distinct = rows.allSatisfy { keys.insert([.text($0.table)] + $0.key).inserted }
        let combined = distinct && rows.reduce(0) { $0 + $1.values.count } <= Self.parameterLimit
        for row in rows {
            if combined {
                add(row.sql, row.values)
            } else {
                statements.append(Statement(sql: row.sql(1), parameters: row.values))
            }
        }
        add({ "INSERT INTO changes (position, created_at, body) VALUES ($\($0), $\($0 + 1), $\($0 + 2))" },
            [.integer(position), .integer(createdAt), .text(StoreSchema.encode(change.logged))])
        for (origin, serial) in change.serials {
            add({ "INSERT INTO zone_serials (origin, serial) VALUES ($\($0), $\($0 + 1)) ON CONFLICT (origin) DO UPDATE SET serial = excluded.serial" },
                [.text(origin.lowercased().description), .integer(Int64(serial))])
        }
        for delta in change.deltas {
            add({ n in
                "INSERT INTO zone_journal (origin, position, from_serial, to_serial, created_at, removed, added) VALUES (\((n..<n + 7).map { "$\($0)" }.joined(separator: ", ")))"
            }, [.text(delta.origin.lowercased().description), .integer(position), .integer(Int64(delta.fromSerial)),
                .integer(Int64(delta.toSerial)), .integer(delta.createdAt), .text(StoreSchema.journalText(delta.removed)),
                .text(StoreSchema.journalText(delta.added))])
        }
        let notify = parameters.count + 1
        parameters += [.text(channel), .text(replicaID)]
        let with = clauses.enumerated().map { "w\($0) AS (\($1))" }.joined(separator: ", ")
        statements.append(Statement(sql: "WITH \(with) SELECT pg_notify($\(notify), $\(notify + 1))", parameters: parameters))
    }
}
