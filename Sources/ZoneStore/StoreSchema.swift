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
    ]

    /// Lists are stored as one text column, comma-separated (CIDRs and name
    /// patterns contain no commas).
    public static func join(_ list: [String]) -> String { list.joined(separator: ",") }
    public static func split(_ text: String) -> [String] { text.split(separator: ",").map(String.init) }
}
