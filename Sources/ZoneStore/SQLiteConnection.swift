import CSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One connection to an SQLite file through the system libsqlite3, with its
/// prepared statements kept for reuse. Not thread-safe: its owner serialises use.
final class SQLiteConnection {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    /// Opens (creating if needed) the file in WAL mode, waiting up to 5 s
    /// for another process's lock (see `retryWhileBusy`); `synchronous =
    /// FULL` so that a committed transaction survives power loss.
    init(path: String) throws(ZoneStoreError) {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            handle = nil
            throw ZoneStoreError(.storage, "cannot open SQLite database \(path): \(message)")
        }
        sqlite3_busy_handler(handle, Self.retryWhileBusy, nil)
        // Before anything writes (switching to WAL rewrites the header): a
        // corrupt file or another program's database is refused untouched.
        let tables: [String]
        do {
            tables = try run("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text }
        } catch {
            throw ZoneStoreError(.storage, "\(path) is not a readable SQLite database (\(String(cString: sqlite3_errmsg(handle)))); not touching it")
        }
        if !tables.isEmpty && !tables.contains("schema_version") {
            throw ZoneStoreError(.storage, "\(path) is an SQLite database of something else (tables \(tables.joined(separator: ", "))); not touching it")
        }
        try execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    private func failure(_ what: String) -> ZoneStoreError {
        ZoneStoreError(.storage, "SQLite \(path): \(what): \(String(cString: sqlite3_errmsg(handle)))")
    }

    /// Runs one or more statements without parameters (schema, pragmas).
    func execute(_ sql: String) throws(ZoneStoreError) {
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw failure(sql) }
    }

    /// Runs a statement with parameters and returns its rows.
    @discardableResult
    func run(_ sql: String, _ parameters: [SQLValue] = []) throws(ZoneStoreError) -> [[SQLValue]] {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, parameter) in parameters.enumerated() {
            let position = Int32(index + 1)
            let status: Int32
            switch parameter {
            case .integer(let value): status = sqlite3_bind_int64(statement, position, value)
            case .text(let value): status = sqlite3_bind_text(statement, position, value, -1, Self.transient)
            case .null: status = sqlite3_bind_null(statement, position)
            }
            guard status == SQLITE_OK else { throw failure("binding parameter \(position)") }
        }
        var rows: [[SQLValue]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw failure(sql) }
            rows.append((0..<sqlite3_column_count(statement)).map { column in
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
                case SQLITE_NULL: return .null
                default: return .text(sqlite3_column_text(statement, column).map { String(cString: $0) } ?? "")
                }
            })
        }
    }

    /// Runs `body` inside a transaction, rolling back if it throws:
    /// `BEGIN IMMEDIATE` (the write lock at once) for writers, a deferred
    /// `BEGIN` (one consistent snapshot in WAL mode) for readers.
    func transaction<T>(immediate: Bool = true, _ body: () throws(ZoneStoreError) -> T) throws(ZoneStoreError) -> T {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private func prepared(_ sql: String) throws(ZoneStoreError) -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else { throw failure("preparing \(sql)") }
        statements[sql] = statement
        return statement
    }

    /// Retries a locked database every 250 µs for up to 5 s. SQLite's own
    /// busy timeout backs off to sleeps of 25-100 ms, so a writer that
    /// finds the lock held for a millisecond by another process (a CLI
    /// command committing) would lose tens of milliseconds.
    private static let retryWhileBusy: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { _, attempts in
        guard attempts < 20_000 else { return 0 }
        usleep(250)
        return 1
    }

    /// SQLITE_TRANSIENT, a macro Swift does not import: SQLite copies the bytes.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
