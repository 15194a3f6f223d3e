import DNSWire
import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization
import ZoneStore

/// Several cdnsd replicas on one PostgreSQL database: the same schema, SQL
/// and migrations as SQLite (`StoreSchema`), every commit in one
/// transaction under an advisory lock that also appends to the change log
/// and sends `NOTIFY cdnsd_changes`, and `followChanges` for each replica to
/// LISTEN and catch up from the change log when another one wrote.
///
/// The `PostgresClient` must be running: call `run()` in a task (the daemon
/// runs it as a service) for as long as the backend is used.
public final class PostgresBackend: StoreBackend {
    public static let channel = "cdnsd_changes"
    let client: PostgresClient
    let logger: Logger
    /// Sent as the NOTIFY payload, so that a replica ignores its own commits.
    public let replicaID = UUID().uuidString

    private let retention: StoreRetention

    /// Longest a read, a commit or a health check waits for the database
    /// (a connection included) before it fails: while PostgreSQL is away,
    /// writes answer 503 at once instead of hanging, and DNS serves the
    /// last snapshot.
    public let operationTimeout: Duration

    /// Connects lazily to `url` (`postgres://user:password@host:port/database?sslmode=…&sslrootcert=…`).
    public init(url: String, retention: StoreRetention = StoreRetention(), operationTimeout: Duration = .seconds(10), logger: Logger) throws(ZoneStoreError) {
        self.retention = retention
        self.operationTimeout = operationTimeout
        var configuration = try Self.clientConfiguration(url: url)
        configuration.options.minimumConnections = 1
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    /// How the connection uses TLS: libpq's `sslmode` values.
    public enum SSLMode: String, Sendable, CaseIterable {
        /// Plain TCP only.
        case disable
        /// TLS when the server offers it, else plain (treated as `prefer`).
        case allow
        /// TLS when the server offers it, else plain; the certificate is not checked (libpq's default).
        case prefer
        /// TLS or no connection; the certificate is checked only when `sslrootcert` is given (as libpq does).
        case require
        /// TLS with a certificate that chains to `sslrootcert` (or the system roots).
        case verifyCA = "verify-ca"
        /// As `verify-ca`, and the certificate names the host (DNS name or IP address).
        case verifyFull = "verify-full"
    }

    /// The client settings of `postgres://user:password@host:port/database`,
    /// with the query parameters `sslmode` (default `prefer`) and `sslrootcert` (a PEM file).
    static func clientConfiguration(url: String) throws(ZoneStoreError) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, let user = components.user, !user.isEmpty else {
            throw ZoneStoreError(.storage, "not a PostgreSQL URL (postgres://user:password@host:port/database): \(url)")
        }
        let database = components.path.split(separator: "/").first.map(String.init)
        var modeText = "prefer"
        var rootCertificate: String? = nil
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode": modeText = item.value ?? ""
            case "sslrootcert": rootCertificate = item.value.flatMap { $0.isEmpty ? nil : $0 }
            default:
                throw ZoneStoreError(.storage, "PostgreSQL URL parameter \(item.name) is not supported (sslmode and sslrootcert are)")
            }
        }
        guard let mode = SSLMode(rawValue: modeText) else {
            throw ZoneStoreError(.storage, "sslmode=\(modeText) is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password, database: database,
            tls: try tls(mode: mode, rootCertificate: rootCertificate))
        // A host name (not an address) is sent for SNI and checked under verify-full.
        if IPAddress(host) == nil { configuration.options.tlsServerName = host }
        return configuration
    }

    /// postgres-nio's TLS setting for `mode`.
    static func tls(mode: SSLMode, rootCertificate: String?) throws(ZoneStoreError) -> PostgresClient.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let rootCertificate {
            guard FileManager.default.isReadableFile(atPath: rootCertificate) else {
                throw ZoneStoreError(.storage, "sslrootcert \(rootCertificate) cannot be read")
            }
            tls.trustRoots = .file(rootCertificate)
        }
        switch mode {
        case .disable:
            return .disable
        case .allow, .prefer:
            tls.certificateVerification = .none
            return .prefer(tls)
        case .require:
            tls.certificateVerification = rootCertificate == nil ? .none : .noHostnameVerification
            return .require(tls)
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return .require(tls)
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            return .require(tls)
        }
    }

    /// Runs `body`, failing with a storage error when it takes longer than
    /// `limit`. Does not wait for `body` to notice its cancellation (a
    /// request for a connection from a pool that cannot connect may not):
    /// the caller gets its answer at the deadline. A write that fails so
    /// may still commit later; the change log then brings it in like any
    /// other writer's.
    func bounded<T: Sendable>(_ what: String, _ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = Race<T>()
        let deadlines = deadlines
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.waiting.withLock { $0 = continuation }
            let handle = deadlines.add(.now + limit) {
                if race.finish(.failure(ZoneStoreError(.storage, "PostgreSQL: \(what) took longer than \(limit) (is the database reachable?)"))) {
                    race.work.withLock { $0 }?.cancel()
                }
            }
            let work = Task {
                do { _ = race.finish(.success(try await body())) } catch { _ = race.finish(.failure(error)) }
                deadlines.remove(handle)
            }
            race.work.withLock { $0 = work }
        }
    }

    /// The deadlines of the `bounded` operations in flight, checked by `run`.
    private let deadlines = OperationDeadlines()

    /// The continuation `bounded` resumes once: with the result or at the
    /// deadline, and the task doing the work, cancelled at the deadline.
    private final class Race<T: Sendable>: Sendable {
        let waiting = Mutex<CheckedContinuation<T, any Error>?>(nil)
        let work = Mutex<Task<Void, Never>?>(nil)

        func finish(_ result: Result<T, any Error>) -> Bool {
            guard let continuation = waiting.withLock({ state in defer { state = nil }; return state }) else { return false }
            continuation.resume(with: result)
            return true
        }
    }

    /// Runs the connection pool, and the deadlines of the operations on
    /// it, until the task is cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { [deadlines] in await deadlines.run() }
            await client.run()
            group.cancelAll()
        }
    }

    static func failure(_ what: String, _ error: any Error) -> ZoneStoreError {
        ZoneStoreError(.storage, "PostgreSQL: \(what): \(String(reflecting: error))")
    }

    /// Reads everything in one consistent snapshot; runs the migrations
    /// first, once per backend.
    public func load(tables: [StoreSchema.Table]) async throws(ZoneStoreError) -> StoredState {
        do {
            if !migrated.withLock({ $0 }) {
                try await migrate()
                migrated.withLock { $0 = true }
            }
            let client = client
            let logger = logger
            return try await bounded("loading", operationTimeout * 3) { try await client.withConnection { connection in
                try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                do {
                    var state = StoredState()
                    state.position = try await Self.position(connection, logger: logger)
                    for table in tables {
                        for row in try await Self.rows(table.selectAll, kinds: table.kinds, on: connection, logger: logger) {
                            state.items.append(try StoreSchema.item(table, row: row))
                        }
                    }
                    for row in try await Self.rows("SELECT origin, serial FROM zone_serials", kinds: [.text, .integer], on: connection, logger: logger) {
                        if let text = row[0].text, let origin = try? DNSName(text), let serial = row[1].integer {
                            state.serials[origin] = UInt32(truncatingIfNeeded: serial)
                        }
                    }
                    try await connection.query("COMMIT", logger: logger)
                    return state
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            } }
        } catch let error as ZoneStoreError {
            throw error
        } catch {
            throw Self.failure("loading", error)
        }
    }

    private let migrated = Mutex(false)

    /// Runs the migrations not yet applied, under an advisory lock so that
    /// replicas starting together do not race.
    func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", logger: logger)
            var version = 0
            for try await value in try await connection.query("SELECT coalesce(max(version), 0) FROM schema_version", logger: logger).decode(Int.self) {
                version = value
            }
            guard version <= StoreSchema.migrations.count else {
                throw ZoneStoreError(.storage, "the database has schema version \(version), newer than this cdnsd (\(StoreSchema.migrations.count)); use a newer cdnsd")
            }
            for (index, migration) in StoreSchema.migrations.enumerated().dropFirst(version) {
                for statement in StoreSchema.statements(of: migration) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO schema_version (version) VALUES (\(index + 1))", logger: logger)
            }
        }
    }

    /// The advisory lock writers and migrations take, so that one commits at a time.
    static let lockKey = Int64(0x6364_6E73)

    static func position(_ connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        try await rows("SELECT coalesce(max(position), 0) FROM changes", kinds: [.integer], on: connection, logger: logger).first?.first?.integer ?? 0
    }

    /// Runs `sql` with `parameters` ($1, $2, …) and reads every row as `kinds` say.
    static func rows(_ sql: String, _ parameters: [SQLValue] = [], kinds: [StoreSchema.Table.Kind], on connection: PostgresConnection, logger: Logger) async throws -> [[SQLValue]] {
        var result: [[SQLValue]] = []
        for try await row in try await connection.query(query(sql, parameters), logger: logger) {
            let cells = row.makeRandomAccess()
            var values: [SQLValue] = []
            for (index, kind) in kinds.enumerated() {
                switch kind {
                case .integer: values.append(.integer(try cells[index].decode(Int64.self)))
                case .text: values.append(.text(try cells[index].decode(String.self)))
                }
            }
            result.append(values)
        }
        return result
    }

    static func query(_ sql: String, _ parameters: [SQLValue]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            switch parameter {
            case .integer(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            case .null: bindings.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    public func changes(after position: Int64) async throws(ZoneStoreError) -> [LoggedChange]? {
        let rows: [[SQLValue]]?
        do {
            let client = client
            let logger = logger
            rows = try await bounded("reading the change log", operationTimeout) {
                try await client.withConnection { connection in try await Self.changeRows(after: position, on: connection, logger: logger) }
            }
        } catch {
            throw Self.failure("reading the change log", error)
        }
        guard let rows else { return nil }
        return try Self.changes(rows)
    }

    private static func changes(_ rows: [[SQLValue]]) throws(ZoneStoreError) -> [LoggedChange] {
        var changes: [LoggedChange] = []
        for row in rows {
            guard let at = row[0].integer, let body = row[1].text else { throw ZoneStoreError(.storage, "PostgreSQL: unreadable change-log row") }
            changes.append(LoggedChange(position: at, body: try StoreSchema.decode(body)))
        }
        return changes
    }

    /// The change-log rows after `position`, or nil when the log no longer
    /// reaches back that far; one round trip (a commit makes it under the lock).
    private static func changeRows(after position: Int64, on connection: PostgresConnection, logger: Logger) async throws -> [[SQLValue]]? {
        let rows = try await rows("SELECT position, body FROM changes WHERE position > $1 ORDER BY position", [.integer(position)],
                                  kinds: [.integer, .text], on: connection, logger: logger)
        guard let first = rows.first?.first?.integer else { return [] }
        return first == position + 1 ? rows : nil
    }

    /// Commits on top of `position`: first as one statement (see
    /// `CommitStatements.single`), which is the whole commit when no other
    /// writer committed since `position`; when one did (a unique violation
    /// on the change log), or the change needs several statements or the
    /// change log's trimming, in a transaction that takes the lock, reads
    /// the entries missed and prepares again on top of them. After a lost
    /// race every commit takes that path for `contentionBackoff`: while
    /// replicas write at once, most tries would lose.
    public func commit<Outcome: Sendable>(after position: Int64, _ prepare: @escaping CommitPreparation<Outcome>) async throws(ZoneStoreError) -> Outcome? {
        let next = position + 1
        if next % 64 != 0, ContinuousClock.now >= contendedUntil.withLock({ $0 }) {
            let (change, outcome) = try prepare([])
            guard let change else { return outcome }
            let now = Int64(Date().timeIntervalSince1970)
            if let statement = CommitStatements.single(position: next, createdAt: now, change: change, channel: Self.channel,
                                                       replicaID: replicaID, lockKey: Self.lockKey) {
                let client = client
                let logger = logger
                do {
                    try await bounded("writing", operationTimeout) {
                        try await client.withConnection { connection in
                            for try await _ in try await connection.query(Self.query(statement.sql, statement.parameters), logger: logger) {}
                        }
                    }
                    return outcome
                } catch let error as PSQLError where error.serverInfo?[.sqlState] == Self.uniqueViolation {
                    // Another writer took this position first: the slow path below, and for a while
                    // the slow path only, as every try while both write would waste a statement.
                    contendedUntil.withLock { $0 = ContinuousClock.now + Self.contentionBackoff }
                } catch let error as ZoneStoreError {
                    throw error
                } catch {
                    throw Self.failure("writing", error)
                }
            }
        }
        return try await lockedCommit(after: position, prepare)
    }

    /// SQLSTATE `unique_violation`.
    static let uniqueViolation = "23505"

    /// Until when commits skip the one-statement try: another writer won a
    /// position from this one lately.
    private let contendedUntil = Mutex(ContinuousClock.now)
    /// How long a lost race keeps this replica on the locked path.
    static let contentionBackoff = Duration.seconds(1)

    private func lockedCommit<Outcome: Sendable>(after position: Int64, _ prepare: @escaping CommitPreparation<Outcome>) async throws(ZoneStoreError) -> Outcome? {
        let retention = retention
        let client = client
        let logger = logger
        let replicaID = replicaID
        do {
            return try await bounded("writing", operationTimeout) { try await client.withTransaction(logger: logger) { connection -> Outcome? in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
                guard let rows = try await Self.changeRows(after: position, on: connection, logger: logger) else { return nil }
                let missed = try Self.changes(rows)
                let (change, outcome) = try prepare(missed)
                guard let change else { return outcome }
                let next = position + Int64(missed.count) + 1
                let now = Int64(Date().timeIntervalSince1970)
                if next % 64 == 0 {
                    try await connection.query(Self.query("DELETE FROM changes WHERE position <= $1", [.integer(next - Int64(retention.changes))]), logger: logger)
                    try await connection.query(Self.query("DELETE FROM zone_journal WHERE created_at < $1", [.integer(now - retention.journalMaxAge)]), logger: logger)
                    try await connection.query(Self.query(
                        "DELETE FROM zone_journal j USING (SELECT origin, position, row_number() OVER (PARTITION BY origin ORDER BY position DESC) AS age FROM zone_journal) o WHERE j.origin = o.origin AND j.position = o.position AND o.age > $1",
                        [.integer(Int64(retention.journalPerZone))]), logger: logger)
                }
                for statement in CommitStatements(position: next, createdAt: now, change: change, channel: Self.channel, replicaID: replicaID).statements {
                    try await connection.query(Self.query(statement.sql, statement.parameters), logger: logger)
                }
                return outcome
            } }
        } catch let error as ZoneStoreError {
            throw error
        } catch {
            throw Self.failure("writing", error)
        }
    }

    public func journal(origin: DNSName, since serial: UInt32) async throws(ZoneStoreError) -> [ZoneDelta] {
        do {
            return try await client.withConnection { connection -> [ZoneDelta] in
                try await Self.rows(StoreSchema.journalSinceSelect(placeholders: ["$1", "$2", "$1"]),
                                    [.text(origin.lowercased().description), .integer(Int64(serial))],
                                    kinds: [.integer, .integer, .integer, .text, .text], on: connection, logger: logger)
                    .map { row in try StoreSchema.journalDelta(origin: origin, row: row) }
            }
        } catch let error as ZoneStoreError {
            throw error
        } catch {
            throw Self.failure("reading the journal", error)
        }
    }

    public func journal(origin: DNSName) async throws(ZoneStoreError) -> [ZoneDelta] {
        do {
            return try await client.withConnection { connection -> [ZoneDelta] in
                try await Self.rows(StoreSchema.journalSelect(placeholder: "$1"), [.text(origin.lowercased().description)],
                                    kinds: [.integer, .integer, .integer, .text, .text], on: connection, logger: logger)
                    .map { row in try StoreSchema.journalDelta(origin: origin, row: row) }
            }
        } catch let error as ZoneStoreError {
            throw error
        } catch {
            throw Self.failure("reading the journal", error)
        }
    }

    public func checkHealth() async throws(ZoneStoreError) {
        let client = client
        let logger = logger
        do {
            _ = try await bounded("checking health", .seconds(3)) { () async throws -> Bool in
                // A row sequence left unread can keep its connection leased: read it.
                for try await _ in try await client.query("SELECT 1", logger: logger) {}
                return true
            }
        } catch let error as ZoneStoreError {
            throw error
        } catch {
            throw Self.failure("checking health", error)
        }
    }

    /// LISTENs for other replicas' writes and calls `onChange` for each, and
    /// once after every (re)connect to resynchronise (notifications sent
    /// meanwhile are lost; the change log is not); retries a lost
    /// connection after `retry`, doubling up to `maxRetry` while it keeps
    /// failing, until the task is cancelled.
    public func followChanges(retry: Duration = .seconds(1), maxRetry: Duration = .seconds(30), onChange: @escaping @Sendable () async -> Void) async {
        var delay = retry
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        listening.withLock { $0 = true }
                        await onChange()
                        for try await notification in notifications where notification.payload != replicaID {
                            await onChange()
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("PostgreSQL change feed lost; reconnecting", metadata: ["error": "\(String(reflecting: error))", "retry_in": "\(delay)"])
            }
            // A feed that was up starts again from the shortest delay.
            if listening.withLock({ state in defer { state = false }; return state }) { delay = retry }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, maxRetry)
        }
    }

    /// Whether the change feed is listening now (false while PostgreSQL is away).
    public var isFollowing: Bool { listening.withLock { $0 } }
    private let listening = Mutex(false)
}
