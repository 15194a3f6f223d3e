import DNSWire
import Synchronization

/// The embedded default: one SQLite file, created on first start, WAL mode,
/// versioned migrations, reused prepared statements, `synchronous = FULL`
/// so that every acknowledged change is on disk. The connection sits behind
/// a mutex; the owning store calls one method at a time anyway.
public final class SQLiteBackend: StoreBackend {
    private let database: Mutex<SQLiteConnection>
    public let path: String

    /// Opens or creates the database at `path`; its directory must exist.
    public init(path: String) throws(ZoneStoreError) {
        self.path = path
        database = Mutex(try SQLiteConnection(path: path))
    }

    public func load() async throws(ZoneStoreError) -> StoredState {
        try database.withLock { (connection) throws(ZoneStoreError) -> StoredState in
            try Self.migrate(connection)
            var state = StoredState()
            for row in try connection.run("SELECT line FROM records ORDER BY rowid") {
                guard let line = row[0].text, let record = try? ResourceRecord(presentation: line) else {
                    throw ZoneStoreError(.storage, "unreadable record row in \(connection.path): \(row)")
                }
                state.records.append(record)
            }
            for row in try connection.run("SELECT name, value, owner, created_at, expires_at FROM challenges ORDER BY rowid") {
                guard let nameText = row[0].text, let name = try? DNSName(nameText), let value = row[1].text, let owner = row[2].text,
                      let created = row[3].integer, let expires = row[4].integer else {
                    throw ZoneStoreError(.storage, "unreadable challenge row in \(connection.path): \(row)")
                }
                state.challenges.append(ChallengeRecord(name: name, value: value, owner: owner, createdAt: created, expiresAt: expires))
            }
            for row in try connection.run("SELECT username, password_hash, subdomain, allow_from FROM accounts ORDER BY rowid") {
                guard let username = row[0].text, let hash = row[1].text, let subdomain = row[2].text, let allow = row[3].text else {
                    throw ZoneStoreError(.storage, "unreadable account row in \(connection.path)")
                }
                state.accounts.append(Account(username: username, passwordHash: hash, subdomain: subdomain, allowFrom: StoreSchema.split(allow)))
            }
            for row in try connection.run("SELECT name, secret_hash, allowed_names, allowed_sources FROM credentials ORDER BY rowid") {
                guard let name = row[0].text, let hash = row[1].text, let names = row[2].text, let sources = row[3].text else {
                    throw ZoneStoreError(.storage, "unreadable credential row in \(connection.path)")
                }
                state.credentials.append(APICredential(name: name, secretHash: hash, allowedNames: StoreSchema.split(names), allowedSources: StoreSchema.split(sources)))
            }
            for row in try connection.run("SELECT name, algorithm, secret, allowed_names, allowed_sources, allowed_types, challenge_names_only, transfer_only FROM tsig_keys ORDER BY rowid") {
                guard let key = StoreSchema.tsigKey(row.map(\.text), flags: (row[6].integer ?? 1, row[7].integer ?? 0)) else {
                    throw ZoneStoreError(.storage, "unreadable TSIG key row in \(connection.path)")
                }
                state.tsigKeys.append(key)
            }
            for row in try connection.run("SELECT origin, serial FROM zone_serials") {
                if let text = row[0].text, let origin = try? DNSName(text), let serial = row[1].integer {
                    state.serials[origin] = UInt32(truncatingIfNeeded: serial)
                }
            }
            return state
        }
    }

    private static func migrate(_ connection: SQLiteConnection) throws(ZoneStoreError) {
        try connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        let version = Int(try connection.run("SELECT max(version) FROM schema_version").first?.first?.integer ?? 0)
        guard version <= StoreSchema.migrations.count else {
            throw ZoneStoreError(.storage, "\(connection.path) has schema version \(version), newer than this cdnsd (\(StoreSchema.migrations.count))")
        }
        for (index, migration) in StoreSchema.migrations.enumerated().dropFirst(version) {
            try connection.transaction { () throws(ZoneStoreError) in
                try connection.execute(migration)
                try connection.run("INSERT INTO schema_version (version) VALUES (?)", [.integer(Int64(index + 1))])
            }
        }
    }

    public func apply(_ changes: [StoreChange], serials: [DNSName: UInt32]) async throws(ZoneStoreError) {
        try database.withLock { (connection) throws(ZoneStoreError) in
            try connection.transaction { () throws(ZoneStoreError) in
                for change in changes { try Self.write(change, to: connection) }
                for (origin, serial) in serials {
                    try connection.run("INSERT INTO zone_serials (origin, serial) VALUES (?, ?) ON CONFLICT (origin) DO UPDATE SET serial = excluded.serial",
                                       [.text(origin.lowercased().description), .integer(Int64(serial))])
                }
            }
        }
    }

    private static func write(_ change: StoreChange, to connection: SQLiteConnection) throws(ZoneStoreError) {
        switch change {
        case .addRecords(let records):
            for record in records {
                try connection.run("INSERT INTO records (name, type, rdata, line) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", Self.key(record) + [.text(record.description)])
            }
        case .removeRecords(let records):
            for record in records {
                try connection.run("DELETE FROM records WHERE name = ? AND type = ? AND rdata = ?", Self.key(record))
            }
        case .replaceRRset(let name, let type, let records):
            try connection.run("DELETE FROM records WHERE name = ? AND type = ?", [.text(name.lowercased().description), .integer(Int64(type.rawValue))])
            try write(.addRecords(records), to: connection)
        case .addChallenge(let challenge):
            try connection.run(
                "INSERT INTO challenges (name, value, owner, created_at, expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, value) DO UPDATE SET owner = excluded.owner, created_at = excluded.created_at, expires_at = excluded.expires_at",
                [.text(challenge.name.lowercased().description), .text(challenge.value), .text(challenge.owner), .integer(challenge.createdAt), .integer(challenge.expiresAt)])
        case .removeChallenge(let name, let value):
            try connection.run("DELETE FROM challenges WHERE name = ? AND value = ?", [.text(name.lowercased().description), .text(value)])
        case .expireChallenges(let before):
            try connection.run("DELETE FROM challenges WHERE expires_at <= ?", [.integer(before)])
        case .putAccount(let account):
            try connection.run(
                "INSERT INTO accounts (username, password_hash, subdomain, allow_from) VALUES (?, ?, ?, ?) ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, subdomain = excluded.subdomain, allow_from = excluded.allow_from",
                [.text(account.username), .text(account.passwordHash), .text(account.subdomain), .text(StoreSchema.join(account.allowFrom))])
        case .putCredential(let credential):
            try connection.run(
                "INSERT INTO credentials (name, secret_hash, allowed_names, allowed_sources) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET secret_hash = excluded.secret_hash, allowed_names = excluded.allowed_names, allowed_sources = excluded.allowed_sources",
                [.text(credential.name), .text(credential.secretHash), .text(StoreSchema.join(credential.allowedNames)), .text(StoreSchema.join(credential.allowedSources))])
        case .removeCredential(let name):
            try connection.run("DELETE FROM credentials WHERE name = ?", [.text(name)])
        case .putTSIGKey(let key):
            let columns = StoreSchema.columns(of: key)
            try connection.run(
                "INSERT INTO tsig_keys (name, algorithm, secret, allowed_names, allowed_sources, allowed_types, challenge_names_only, transfer_only) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET algorithm = excluded.algorithm, secret = excluded.secret, allowed_names = excluded.allowed_names, allowed_sources = excluded.allowed_sources, allowed_types = excluded.allowed_types, challenge_names_only = excluded.challenge_names_only, transfer_only = excluded.transfer_only",
                columns.texts.map { .text($0) } + [.integer(columns.flags.0), .integer(columns.flags.1)])
        case .removeTSIGKey(let name):
            try connection.run("DELETE FROM tsig_keys WHERE name = ?", [.text(name.lowercased().description)])
        }
    }

    public func checkHealth() async throws(ZoneStoreError) {
        _ = try database.withLock { (connection) throws(ZoneStoreError) in try connection.run("SELECT count(*) FROM schema_version") }
    }

    /// Changes whenever another connection (another process, such as
    /// `cdnsd credential add`) commits to the file; the daemon polls it
    /// and reloads.
    public func dataVersion() throws(ZoneStoreError) -> Int64 {
        try database.withLock { (connection) throws(ZoneStoreError) -> Int64 in
            try connection.run("PRAGMA data_version").first?.first?.integer ?? 0
        }
    }

    /// Primary key of a record row: lowercased owner, type, RDATA text.
    static func key(_ record: ResourceRecord) -> [SQLValue] {
        [.text(record.name.lowercased().description), .integer(Int64(record.type.rawValue)), .text(record.data.description)]
    }
}
