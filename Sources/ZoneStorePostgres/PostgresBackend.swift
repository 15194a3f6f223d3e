import DNSWire
import Foundation
import Logging
import PostgresNIO
import ZoneStore

/// Several cdnsd replicas on one PostgreSQL database: the same schema and
/// migrations as SQLite, every write in one transaction that also sends
/// `NOTIFY cdnsd_changes`, and `followChanges` for each replica to LISTEN
/// and reload when another one wrote.
///
/// The `PostgresClient` must be running: call `run()` in a task (the daemon
/// runs it as a service) for as long as the backend is used.
public final class PostgresBackend: StoreBackend {
    public static let channel = "cdnsd_changes"
    let client: PostgresClient
    let logger: Logger
    /// Sent as the NOTIFY payload, so that a replica ignores its own writes.
    public let replicaID = UUID().uuidString

    /// Connects lazily to `url` (`postgres://user:password@host:port/database`).
    public init(url: String, logger: Logger) throws(ZoneStoreError) {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, let user = components.user, !user.isEmpty else {
            throw ZoneStoreError(.storage, "not a PostgreSQL URL (postgres://user:password@host:port/database): \(url)")
        }
        let database = components.path.split(separator: "/").first.map(String.init)
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password, database: database, tls: .disable)
        configuration.options.minimumConnections = 1
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    /// Runs the connection pool until the task is cancelled.
    public func run() async { await client.run() }

    static func failure(_ what: String, _ error: any Error) -> ZoneStoreError {
        ZoneStoreError(.storage, "PostgreSQL: \(what): \(String(reflecting: error))")
    }

    public func load() async throws(ZoneStoreError) -> StoredState {
        do {
            try await migrate()
            var state = StoredState()
            for try await line in try await client.query("SELECT line FROM records ORDER BY name, type, rdata", logger: logger).decode(String.self) {
                state.records.append(try ResourceRecord(presentation: line))
            }
            let challenges = try await client.query("SELECT name, value, owner, created_at, expires_at FROM challenges ORDER BY created_at, name, value", logger: logger)
            for try await (name, value, owner, created, expires) in challenges.decode((String, String, String, Int64, Int64).self) {
                state.challenges.append(ChallengeRecord(name: try DNSName(name), value: value, owner: owner, createdAt: created, expiresAt: expires))
            }
            let accounts = try await client.query("SELECT username, password_hash, subdomain, allow_from FROM accounts ORDER BY username", logger: logger)
            for try await (username, hash, subdomain, allow) in accounts.decode((String, String, String, String).self) {
                state.accounts.append(Account(username: username, passwordHash: hash, subdomain: subdomain, allowFrom: StoreSchema.split(allow)))
            }
            let credentials = try await client.query("SELECT name, secret_hash, allowed_names, allowed_sources FROM credentials ORDER BY name", logger: logger)
            for try await (name, hash, names, sources) in credentials.decode((String, String, String, String).self) {
                state.credentials.append(APICredential(name: name, secretHash: hash, allowedNames: StoreSchema.split(names), allowedSources: StoreSchema.split(sources)))
            }
            let keys = try await client.query("SELECT name, algorithm, secret, allowed_names, allowed_sources, allowed_types, challenge_names_only, transfer_only FROM tsig_keys ORDER BY name", logger: logger)
            for try await (name, algorithm, secret, names, sources, types, challengeOnly, transferOnly) in keys.decode((String, String, String, String, String, String, Int64, Int64).self) {
                guard let key = StoreSchema.tsigKey([name, algorithm, secret, names, sources, types], flags: (challengeOnly, transferOnly)) else {
                    throw ZoneStoreError(.storage, "PostgreSQL: unreadable TSIG key row \(name)")
                }
                state.tsigKeys.append(key)
            }
            for try await (origin, serial) in try await client.query("SELECT origin, serial FROM zone_serials", logger: logger).decode((String, Int64).self) {
                state.serials[try DNSName(origin)] = UInt32(truncatingIfNeeded: serial)
            }
            return state
        } catch let error as ZoneStoreError {
            throw error
        } catch {
            throw Self.failure("loading", error)
        }
    }

    /// Runs the migrations not yet applied, under an advisory lock so that
    /// replicas starting together do not race.
    func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Int64(0x6364_6E73)))", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", logger: logger)
            var version = 0
            for try await value in try await connection.query("SELECT coalesce(max(version), 0) FROM schema_version", logger: logger).decode(Int.self) {
                version = value
            }
            guard version <= StoreSchema.migrations.count else {
                throw ZoneStoreError(.storage, "the database has schema version \(version), newer than this cdnsd (\(StoreSchema.migrations.count))")
            }
            for (index, migration) in StoreSchema.migrations.enumerated().dropFirst(version) {
                for statement in migration.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                    try await connection.query(PostgresQuery(unsafeSQL: String(statement)), logger: logger)
                }
                try await connection.query("INSERT INTO schema_version (version) VALUES (\(index + 1))", logger: logger)
            }
        }
    }

    public func apply(_ changes: [StoreChange], serials: [DNSName: UInt32]) async throws(ZoneStoreError) {
        do {
            try await client.withTransaction(logger: logger) { connection in
                for change in changes { try await Self.write(change, on: connection, logger: logger) }
                for (origin, serial) in serials {
                    try await connection.query(
                        "INSERT INTO zone_serials (origin, serial) VALUES (\(origin.lowercased().description), \(Int64(serial))) ON CONFLICT (origin) DO UPDATE SET serial = excluded.serial",
                        logger: logger)
                }
                try await connection.query("SELECT pg_notify(\(Self.channel), \(replicaID))", logger: logger)
            }
        } catch let error as ZoneStoreError {
            throw error
        } catch {
            throw Self.failure("writing", error)
        }
    }

    public func checkHealth() async throws(ZoneStoreError) {
        do {
            try await client.query("SELECT 1", logger: logger)
        } catch {
            throw Self.failure("checking health", error)
        }
    }

    static func write(_ change: StoreChange, on connection: PostgresConnection, logger: Logger) async throws {
        switch change {
        case .addRecords(let records):
            for record in records {
                try await connection.query(
                    "INSERT INTO records (name, type, rdata, line) VALUES (\(record.name.lowercased().description), \(Int64(record.type.rawValue)), \(record.data.description), \(record.description)) ON CONFLICT DO NOTHING",
                    logger: logger)
            }
        case .removeRecords(let records):
            for record in records {
                try await connection.query(
                    "DELETE FROM records WHERE name = \(record.name.lowercased().description) AND type = \(Int64(record.type.rawValue)) AND rdata = \(record.data.description)",
                    logger: logger)
            }
        case .replaceRRset(let name, let type, let records):
            try await connection.query("DELETE FROM records WHERE name = \(name.lowercased().description) AND type = \(Int64(type.rawValue))", logger: logger)
            try await write(.addRecords(records), on: connection, logger: logger)
        case .addChallenge(let challenge):
            try await connection.query(
                "INSERT INTO challenges (name, value, owner, created_at, expires_at) VALUES (\(challenge.name.lowercased().description), \(challenge.value), \(challenge.owner), \(challenge.createdAt), \(challenge.expiresAt)) ON CONFLICT (name, value) DO UPDATE SET owner = excluded.owner, created_at = excluded.created_at, expires_at = excluded.expires_at",
                logger: logger)
        case .removeChallenge(let name, let value):
            try await connection.query("DELETE FROM challenges WHERE name = \(name.lowercased().description) AND value = \(value)", logger: logger)
        case .expireChallenges(let before):
            try await connection.query("DELETE FROM challenges WHERE expires_at <= \(before)", logger: logger)
        case .putAccount(let account):
            try await connection.query(
                "INSERT INTO accounts (username, password_hash, subdomain, allow_from) VALUES (\(account.username), \(account.passwordHash), \(account.subdomain), \(StoreSchema.join(account.allowFrom))) ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, subdomain = excluded.subdomain, allow_from = excluded.allow_from",
                logger: logger)
        case .putCredential(let credential):
            try await connection.query(
                "INSERT INTO credentials (name, secret_hash, allowed_names, allowed_sources) VALUES (\(credential.name), \(credential.secretHash), \(StoreSchema.join(credential.allowedNames)), \(StoreSchema.join(credential.allowedSources))) ON CONFLICT (name) DO UPDATE SET secret_hash = excluded.secret_hash, allowed_names = excluded.allowed_names, allowed_sources = excluded.allowed_sources",
                logger: logger)
        case .removeCredential(let name):
            try await connection.query("DELETE FROM credentials WHERE name = \(name)", logger: logger)
        case .putTSIGKey(let key):
            let (texts, flags) = StoreSchema.columns(of: key)
            try await connection.query(
                "INSERT INTO tsig_keys (name, algorithm, secret, allowed_names, allowed_sources, allowed_types, challenge_names_only, transfer_only) VALUES (\(texts[0]), \(texts[1]), \(texts[2]), \(texts[3]), \(texts[4]), \(texts[5]), \(flags.0), \(flags.1)) ON CONFLICT (name) DO UPDATE SET algorithm = excluded.algorithm, secret = excluded.secret, allowed_names = excluded.allowed_names, allowed_sources = excluded.allowed_sources, allowed_types = excluded.allowed_types, challenge_names_only = excluded.challenge_names_only, transfer_only = excluded.transfer_only",
                logger: logger)
        case .removeTSIGKey(let name):
            try await connection.query("DELETE FROM tsig_keys WHERE name = \(name.lowercased().description)", logger: logger)
        }
    }

    /// LISTENs for other replicas' writes and calls `onChange` for each, and
    /// once after every (re)connect to resynchronise; retries a lost
    /// connection every `retry` until the task is cancelled.
    public func followChanges(retry: Duration = .seconds(1), onChange: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        await onChange()
                        for try await notification in notifications where notification.payload != replicaID {
                            await onChange()
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("PostgreSQL change feed lost; reconnecting", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: retry)
        }
    }
}
