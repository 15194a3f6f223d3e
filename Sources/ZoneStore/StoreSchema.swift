import DNSWire

/// A value bound to or read from an SQL statement.
public enum SQLValue: Sendable, Hashable {
    case integer(Int64)
    case text(String)
    case null

    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    public var text: String? { if case .text(let value) = self { value } else { nil } }
}

/// The storage schema and the SQL that reads and writes it, shared by the
/// SQLite and PostgreSQL backends: migrations, one descriptor per table,
/// rows to and from `StoredItem`, and the text form of change-log entries.
///
/// Records are kept in presentation form (`ResourceRecord.description`),
/// which DNSWire prints and parses back exactly (its fuzz target checks
/// that), so a row is readable with the `sqlite3` or `psql` tool.
public enum StoreSchema {
    /// Forward migrations; `schema_version` holds how many have run. A
    /// backend runs the rest once, at start, each in its own transaction.
    public static let migrations: [String] = [
        """
        CREATE TABLE records (
            name TEXT NOT NULL,
            type INTEGER NOT NULL,
            rdata TEXT NOT NULL,
            line TEXT NOT NULL,
            PRIMARY KEY (name, type, rdata)
        );
        CREATE TABLE challenges (
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            owner TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            PRIMARY KEY (name, value)
        );
        CREATE INDEX challenges_expiry ON challenges (expires_at);
        CREATE TABLE accounts (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            subdomain TEXT NOT NULL UNIQUE,
            allow_from TEXT NOT NULL
        );
        CREATE TABLE credentials (
            name TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL,
            allowed_names TEXT NOT NULL,
            allowed_sources TEXT NOT NULL
        );
        CREATE TABLE zone_serials (
            origin TEXT PRIMARY KEY,
            serial BIGINT NOT NULL
        );
        """,
        """
        CREATE TABLE tsig_keys (
            name TEXT PRIMARY KEY,
            algorithm TEXT NOT NULL,
            secret TEXT NOT NULL,
            allowed_names TEXT NOT NULL,
            allowed_sources TEXT NOT NULL,
            allowed_types TEXT NOT NULL,
            challenge_names_only BIGINT NOT NULL,
            transfer_only BIGINT NOT NULL
        );
        """,
        """
        ALTER TABLE records ADD COLUMN from_configuration BIGINT NOT NULL DEFAULT 0;
        CREATE TABLE zones (
            origin TEXT PRIMARY KEY,
            nameservers TEXT NOT NULL,
            admin TEXT NOT NULL,
            ttl BIGINT NOT NULL,
            negative_ttl BIGINT NOT NULL,
            refresh BIGINT NOT NULL,
            retry BIGINT NOT NULL,
            expire BIGINT NOT NULL,
            from_configuration BIGINT NOT NULL
        );
        CREATE TABLE changes (
            position BIGINT PRIMARY KEY,
            created_at BIGINT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE TABLE zone_journal (
            origin TEXT NOT NULL,
            position BIGINT NOT NULL,
            from_serial BIGINT NOT NULL,
            to_serial BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            removed TEXT NOT NULL,
            added TEXT NOT NULL,
            PRIMARY KEY (origin, position)
        );
        """,
        // hmac-md5 is refused unless a key enables it. Keys made for md5
        // before the flag existed were made with `--allow-md5`: they keep working.
        """
        ALTER TABLE tsig_keys ADD COLUMN allow_md5 BIGINT NOT NULL DEFAULT 0;
        UPDATE tsig_keys SET allow_md5 = 1 WHERE algorithm = 'hmac-md5.sig-alg.reg.int.';
        """,
    ]

    /// The statements of one migration, for drivers that run one at a time.
    public static func statements(of migration: String) -> [String] {
        migration.split(separator: ";").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    // MARK: Tables

    /// One table of items: its columns (key columns first) and their kinds.
    public struct Table: Sendable, Hashable {
        public enum Kind: Sendable, Hashable { case text, integer }

        public let name: String
        public let columns: [String]
        public let kinds: [Kind]
        /// How many leading columns make the primary key.
        public let keyCount: Int

        /// How an engine writes the n-th parameter: `?` (SQLite) or `$n` (PostgreSQL).
        public enum Placeholders: Sendable, Hashable { case question, numbered }

        private let upserts: [String]
        private let deletes: [String]

        /// `INSERT … ON CONFLICT (key) DO UPDATE …`, made once per table and style.
        public func upsert(_ style: Placeholders) -> String { upserts[style == .question ? 0 : 1] }
        /// `DELETE … WHERE key = …`.
        public func delete(_ style: Placeholders) -> String { deletes[style == .question ? 0 : 1] }

        public init(name: String, columns: [String], kinds: [Kind], keyCount: Int) {
            self.name = name
            self.columns = columns
            self.kinds = kinds
            self.keyCount = keyCount
            upserts = [Self.upsert(name, columns, keyCount) { _ in "?" }, Self.upsert(name, columns, keyCount) { "$\($0)" }]
            deletes = [Self.delete(name, columns, keyCount) { _ in "?" }, Self.delete(name, columns, keyCount) { "$\($0)" }]
        }

        /// The upsert with its parameters numbered from `$first`, for one
        /// statement that carries several (PostgreSQL). With `source` (a
        /// one-row table of the same statement) the row is written only
        /// once that table's row exists: how a statement orders its writes
        /// after a lock it takes.
        public func upsert(numberedFrom first: Int, after source: String? = nil) -> String {
            Self.upsert(name, columns, keyCount, after: source) { "$\($0 + first - 1)" }
        }
        /// The delete with its parameters numbered from `$first` (and `source` as for the upsert).
        public func delete(numberedFrom first: Int, after source: String? = nil) -> String {
            Self.delete(name, columns, keyCount, after: source) { "$\($0 + first - 1)" }
        }

        private static func upsert(_ name: String, _ columns: [String], _ keyCount: Int, after source: String? = nil, _ placeholder: (Int) -> String) -> String {
            let values = columns.indices.map { placeholder($0 + 1) }.joined(separator: ", ")
            let key = columns.prefix(keyCount).joined(separator: ", ")
            let updates = columns.dropFirst(keyCount).map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            return "INSERT INTO \(name) (\(columns.joined(separator: ", "))) \(StoreSchema.rowSource(values, after: source)) ON CONFLICT (\(key)) DO UPDATE SET \(updates)"
        }

        private static func delete(_ name: String, _ columns: [String], _ keyCount: Int, after source: String? = nil, _ placeholder: (Int) -> String) -> String {
            let conditions = columns.prefix(keyCount).enumerated().map { "\($1) = \(placeholder($0 + 1))" }.joined(separator: " AND ")
            return "DELETE FROM \(name)\(source.map { " USING \($0)" } ?? "") WHERE \(conditions)"
        }

        /// Every row, in a stable order.
        public var selectAll: String {
            "SELECT \(columns.joined(separator: ", ")) FROM \(name) ORDER BY \(columns.prefix(keyCount).joined(separator: ", "))"
        }
    }

    /// `VALUES (values)`, or with `source` `SELECT values FROM source WHERE
    /// true` (the `WHERE` keeps a following `ON CONFLICT` from reading as a join's `ON`).
    public static func rowSource(_ values: String, after source: String?) -> String {
        source.map { "SELECT \(values) FROM \($0) WHERE true" } ?? "VALUES (\(values))"
    }

    public static let records = Table(
        name: "records", columns: ["name", "type", "rdata", "line", "from_configuration"],
        kinds: [.text, .integer, .text, .text, .integer], keyCount: 3)
    public static let challenges = Table(
        name: "challenges", columns: ["name", "value", "owner", "created_at", "expires_at"],
        kinds: [.text, .text, .text, .integer, .integer], keyCount: 2)
    public static let accounts = Table(
        name: "accounts", columns: ["username", "password_hash", "subdomain", "allow_from"], kinds: [.text, .text, .text, .text], keyCount: 1)
    public static let credentials = Table(
        name: "credentials", columns: ["name", "secret_hash", "allowed_names", "allowed_sources"], kinds: [.text, .text, .text, .text], keyCount: 1)
    public static let tsigKeys = Table(
        name: "tsig_keys",
        columns: ["name", "algorithm", "secret", "allowed_names", "allowed_sources", "allowed_types", "challenge_names_only", "transfer_only", "allow_md5"],
        kinds: [.text, .text, .text, .text, .text, .text, .integer, .integer, .integer], keyCount: 1)
    public static let zones = Table(
        name: "zones", columns: ["origin", "nameservers", "admin", "ttl", "negative_ttl", "refresh", "retry", "expire", "from_configuration"],
        kinds: [.text, .text, .text, .integer, .integer, .integer, .integer, .integer, .integer], keyCount: 1)

    /// Every item table, in the order a load reads them (zones first).
    public static let itemTables = [zones, records, challenges, accounts, credentials, tsigKeys]
    /// The tables no zone's contents depend on: what a store opened for
    /// accounts, credentials and keys alone reads.
    public static let directoryTables = [accounts, credentials, tsigKeys]

    public static func table(of item: StoredItem) -> Table {
        switch item {
        case .record: records
        case .challenge: challenges
        case .account: accounts
        case .credential: credentials
        case .tsigKey: tsigKeys
        case .zone: zones
        }
    }

    /// The item's row, every column of its table in order.
    public static func row(of item: StoredItem) -> [SQLValue] {
        switch item {
        case .record(let record, let fromConfiguration):
            [.text(record.name.lowercased().description), .integer(Int64(record.type.rawValue)), .text(record.data.description),
             .text(record.description), .integer(fromConfiguration ? 1 : 0)]
        case .challenge(let challenge):
            [.text(challenge.name.lowercased().description), .text(challenge.value), .text(challenge.owner),
             .integer(challenge.createdAt), .integer(challenge.expiresAt)]
        case .account(let account):
            [.text(account.username), .text(account.passwordHash), .text(account.subdomain), .text(join(account.allowFrom))]
        case .credential(let credential):
            [.text(credential.name), .text(credential.secretHash), .text(join(credential.allowedNames)), .text(join(credential.allowedSources))]
        case .tsigKey(let key):
            [.text(key.name.lowercased().description), .text(key.algorithm.lowercased().description), .text(Base64.encode(key.secret)),
             .text(join(key.allowedNames)), .text(join(key.allowedSources)), .text(join(key.allowedTypes.map(\.description))),
             .integer(key.challengeNamesOnly ? 1 : 0), .integer(key.transferOnly ? 1 : 0), .integer(key.allowMD5 ? 1 : 0)]
        case .zone(let zone, let fromConfiguration):
            [.text(zone.origin.lowercased().description), .text(join(zone.nameservers.map(\.description))), .text(zone.admin.description),
             .integer(Int64(zone.ttl)), .integer(Int64(zone.negativeTTL)), .integer(Int64(zone.refresh)), .integer(Int64(zone.retry)),
             .integer(Int64(zone.expire)), .integer(fromConfiguration ? 1 : 0)]
        }
    }

    /// The item's primary key, the leading columns of its row.
    public static func key(of item: StoredItem) -> [SQLValue] {
        Array(row(of: item).prefix(table(of: item).keyCount))
    }

    /// The item a row of `table` holds.
    public static func item(_ table: Table, row: [SQLValue]) throws(ZoneStoreError) -> StoredItem {
        // Built only on failure (this runs for every row at start), and
        // naming the key but never the other columns: some hold secrets.
        var bad: ZoneStoreError {
            ZoneStoreError(.storage, "unreadable row in \(table.name)" + (row.first?.text.map { " (key \($0))" } ?? ""))
        }
        // Change-log entries written before migration 4 carry TSIG keys without `allow_md5`.
        let olderKeyRow = table.name == tsigKeys.name && row.count == table.columns.count - 1
        guard row.count == table.columns.count || olderKeyRow else { throw bad }
        func text(_ index: Int) throws(ZoneStoreError) -> String {
            guard let value = row[index].text else { throw bad }
            return value
        }
        func integer(_ index: Int) throws(ZoneStoreError) -> Int64 {
            guard let value = row[index].integer else { throw bad }
            return value
        }
        func name(_ index: Int) throws(ZoneStoreError) -> DNSName {
            guard let value = try? DNSName(try text(index)) else { throw bad }
            return value
        }
        switch table.name {
        case records.name:
            guard let record = try? ResourceRecord(presentation: try text(3)) else { throw bad }
            return .record(record, fromConfiguration: try integer(4) != 0)
        case challenges.name:
            return .challenge(ChallengeRecord(name: try name(0), value: try text(1), owner: try text(2), createdAt: try integer(3), expiresAt: try integer(4)))
        case accounts.name:
            return .account(Account(username: try text(0), passwordHash: try text(1), subdomain: try text(2), allowFrom: split(try text(3))))
        case credentials.name:
            return .credential(APICredential(name: try text(0), secretHash: try text(1), allowedNames: split(try text(2)), allowedSources: split(try text(3))))
        case tsigKeys.name:
            guard let secret = Base64.decode(try text(2)) else { throw bad }
            var types: [RRType] = []
            for mnemonic in split(try text(5)) {
                guard let type = RRType(mnemonic: mnemonic) else { throw bad }
                types.append(type)
            }
            return .tsigKey(TSIGKey(name: try name(0), algorithm: try name(1), secret: secret, allowedNames: split(try text(3)),
                                    allowedSources: split(try text(4)), allowedTypes: types, challengeNamesOnly: try integer(6) != 0,
                                    transferOnly: try integer(7) != 0, allowMD5: olderKeyRow ? false : try integer(8) != 0))
        case zones.name:
            var nameservers: [DNSName] = []
            for text in split(try text(1)) {
                guard let server = try? DNSName(text) else { throw bad }
                nameservers.append(server)
            }
            func uint32(_ index: Int) throws(ZoneStoreError) -> UInt32 {
                guard let value = UInt32(exactly: try integer(index)) else { throw bad }
                return value
            }
            let zone = ZoneConfiguration(
                origin: try name(0), nameservers: nameservers, admin: try name(2), ttl: try uint32(3), negativeTTL: try uint32(4),
                refresh: try uint32(5), retry: try uint32(6), expire: try uint32(7))
            return .zone(zone, fromConfiguration: try integer(8) != 0)
        default:
            throw ZoneStoreError(.storage, "no table \(table.name)")
        }
    }

    /// Lists are stored as one text column, comma-separated (CIDRs, name
    /// patterns, names and type mnemonics contain no commas).
    public static func join(_ list: [String]) -> String { list.joined(separator: ",") }
    public static func split(_ text: String) -> [String] { text.split(separator: ",").map(String.init) }

    // MARK: Change log and journal text

    /// A change-log entry as text: one line per operation (`+table` or
    /// `-table` and the item's row), per serial (`=` origin serial), or `!reload`.
    public static func encode(_ body: LoggedChange.Body) -> String {
        switch body {
        case .reload:
            return "!reload\n"
        case .operations(let operations, let serials):
            var text = ""
            for operation in operations {
                switch operation {
                case .put(let item): text += "+" + encodeLine(table(of: item).name, row(of: item))
                case .delete(let item): text += "-" + encodeLine(table(of: item).name, row(of: item))
                }
            }
            for (origin, serial) in serials.sorted(by: { $0.key < $1.key }) {
                text += "=" + encodeLine(origin.lowercased().description, [.integer(Int64(serial))])
            }
            return text
        }
    }

    /// Reads what `encode` wrote.
    public static func decode(_ text: String) throws(ZoneStoreError) -> LoggedChange.Body {
        var operations: [StoreOperation] = []
        var serials: [DNSName: UInt32] = [:]
        for line in text.split(separator: "\n") {
            guard let marker = line.first else { continue }
            if line == "!reload" { return .reload }
            let fields = line.dropFirst().split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard let head = fields.first else { throw ZoneStoreError(.storage, "bad change-log line: \(line)") }
            var values: [SQLValue] = []
            for field in fields.dropFirst() {
                guard let value = decodeField(field) else { throw ZoneStoreError(.storage, "bad change-log field in: \(line)") }
                values.append(value)
            }
            switch marker {
            case "=":
                guard let origin = try? DNSName(head), let serial = values.first?.integer.flatMap(UInt32.init(exactly:)) else {
                    throw ZoneStoreError(.storage, "bad change-log serial: \(line)")
                }
                serials[origin] = serial
            case "+", "-":
                guard let table = itemTables.first(where: { $0.name == head }) else { throw ZoneStoreError(.storage, "bad change-log table: \(line)") }
                let item = try item(table, row: values)
                operations.append(marker == "+" ? .put(item) : .delete(item))
            default:
                throw ZoneStoreError(.storage, "bad change-log line: \(line)")
            }
        }
        return .operations(operations, serials: serials)
    }

    static func encodeLine(_ head: String, _ values: [SQLValue]) -> String {
        ([escape(head)] + values.map(encodeField)).joined(separator: "\t") + "\n"
    }

    static func encodeField(_ value: SQLValue) -> String {
        switch value {
        case .integer(let number): "i\(number)"
        case .text(let text): "t" + escape(text)
        case .null: "n"
        }
    }

    static func decodeField(_ field: String) -> SQLValue? {
        switch field.first {
        case "i": Int64(field.dropFirst()).map(SQLValue.integer)
        case "t": unescape(field.dropFirst()).map(SQLValue.text)
        case "n": .null
        default: nil
        }
    }

    /// Tabs, newlines and backslashes as `\t`, `\n`, `\\`.
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x09 || $0 == 0x0A || $0 == 0x5C || $0 == 0x0D }) else { return text }
        var out = ""
        for character in text {
            switch character {
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\\": out += "\\\\"
            default: out.append(character)
            }
        }
        return out
    }

    static func unescape(_ text: Substring) -> String? {
        guard text.contains("\\") else { return String(text) }
        var out = ""
        var escaped = false
        for character in text {
            if escaped {
                switch character {
                case "t": out += "\t"
                case "n": out += "\n"
                case "r": out += "\r"
                case "\\": out += "\\"
                default: return nil
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        return escaped ? nil : out
    }

    /// Records as journal text: one presentation line each.
    public static func journalText(_ records: [ResourceRecord]) -> String {
        records.map { $0.description + "\n" }.joined()
    }

    /// The columns `journalDelta(origin:row:)` reads, oldest entry first;
    /// the one parameter is the zone's lowercased origin.
    public static func journalSelect(placeholder: String) -> String {
        "SELECT from_serial, to_serial, created_at, removed, added FROM zone_journal WHERE origin = \(placeholder) ORDER BY position"
    }

    /// `journalSelect` from the newest entry whose from-serial is given:
    /// `placeholders` are for the origin, the serial and the origin again,
    /// and appear in the text in the order origin, origin, serial.
    public static func journalSinceSelect(placeholders: [String]) -> String {
        "SELECT from_serial, to_serial, created_at, removed, added FROM zone_journal WHERE origin = \(placeholders[0]) AND position >= "
            + "(SELECT max(position) FROM zone_journal WHERE origin = \(placeholders[2]) AND from_serial = \(placeholders[1])) ORDER BY position"
    }

    /// One row of `journalSelect`.
    public static func journalDelta(origin: DNSName, row: [SQLValue]) throws(ZoneStoreError) -> ZoneDelta {
        guard row.count == 5, let from = row[0].integer, let to = row[1].integer, let created = row[2].integer,
              let removed = row[3].text, let added = row[4].text else {
            throw ZoneStoreError(.storage, "unreadable journal row of \(origin)")
        }
        return ZoneDelta(origin: origin, fromSerial: UInt32(truncatingIfNeeded: from), toSerial: UInt32(truncatingIfNeeded: to),
                         removed: try journalRecords(removed), added: try journalRecords(added), createdAt: created)
    }

    /// Reads `journalText`.
    public static func journalRecords(_ text: String) throws(ZoneStoreError) -> [ResourceRecord] {
        var records: [ResourceRecord] = []
        for line in text.split(separator: "\n") {
            guard let record = try? ResourceRecord(presentation: line) else {
                throw ZoneStoreError(.storage, "unreadable journal record: \(line)")
            }
            records.append(record)
        }
        return records
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
