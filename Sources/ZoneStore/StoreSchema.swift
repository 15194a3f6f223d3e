import DNSWire

/// The storage schema shared by the SQLite and PostgreSQL backends, as
/// forward migrations. `schema_version` holds how many have run; a backend
/// runs the rest, each in its own transaction, on start.
///
/// Records are kept in presentation form (`ResourceRecord.description`),
/// which DNSWire prints and parses back exactly (its fuzz target checks
/// that), so a row is readable with the `sqlite3` or `psql` tool.
public enum StoreSchema {
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
    ]

    /// Lists are stored as one text column, comma-separated (CIDRs and name
    /// patterns contain no commas).
    public static func join(_ list: [String]) -> String { list.joined(separator: ",") }
    public static func split(_ text: String) -> [String] { text.split(separator: ",").map(String.init) }

    /// A TSIG key's text columns (name, algorithm, base64 secret, names,
    /// sources, types) and its two flags, as both backends store them.
    public static func columns(of key: TSIGKey) -> (texts: [String], flags: (Int64, Int64)) {
        ([key.name.lowercased().description, key.algorithm.lowercased().description, Base64.encode(key.secret),
          join(key.allowedNames), join(key.allowedSources), join(key.allowedTypes.map(\.description))],
         (key.challengeNamesOnly ? 1 : 0, key.transferOnly ? 1 : 0))
    }

    /// The key stored in `texts` (the six text columns of `columns(of:)`) and `flags`.
    public static func tsigKey(_ texts: [String?], flags: (Int64, Int64)) -> TSIGKey? {
        guard texts.count >= 6, let nameText = texts[0], let name = try? DNSName(nameText), let algorithmText = texts[1],
              let algorithm = try? DNSName(algorithmText), let secretText = texts[2], let secret = Base64.decode(secretText),
              let names = texts[3], let sources = texts[4], let typesText = texts[5] else { return nil }
        var types: [RRType] = []
        for mnemonic in split(typesText) {
            guard let type = RRType(mnemonic: mnemonic) else { return nil }
            types.append(type)
        }
        return TSIGKey(name: name, algorithm: algorithm, secret: secret, allowedNames: split(names), allowedSources: split(sources),
                       allowedTypes: types, challengeNamesOnly: flags.0 != 0, transferOnly: flags.1 != 0)
    }
}
