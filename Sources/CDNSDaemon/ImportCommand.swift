import ArgumentParser
import ChallengeAPI
import CSQLite
import DNSWire
import Foundation
import Logging
import TOMLKit
import ZoneStore
import ZoneStorePostgres

/// `cdnsd import acme-dns`: moves an acme-dns installation over.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import from another DNS server's data.",
        subcommands: [ACMEDNS.self])

    struct ACMEDNS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "acme-dns",
            abstract: "Import an acme-dns database (accounts, current TXT values) and its config's static records.",
            discussion: """
                Example: cdnsd import acme-dns --db /var/lib/acme-dns/acme-dns.db --acme-dns-config /etc/acme-dns/config.cfg --config cdnsd.toml
                Every account keeps its username, password (acme-dns's bcrypt hash is kept as it is),
                subdomain and allowfrom, so its fulldomain stays <subdomain>.<[api] account_domain>:
                set account_domain to acme-dns's [general] domain and serve a zone containing it.
                One transaction; running it again changes nothing. --dry-run only prints the plan.
                """)

        @OptionGroup var options: ConfigOptions
        @Option(help: "acme-dns's database: the SQLite file, or postgres://user:password@host:port/database.") var db: String
        @Option(name: .customLong("acme-dns-config"), help: "acme-dns's config.cfg ([general] domain, nsname, nsadmin, records).") var acmeDNSConfig: String?
        @Flag(name: .customLong("dry-run"), help: "Print what would be imported; change nothing.") var dryRun = false

        func run() async throws {
            let configuration = try options.load()
            guard let accountDomain = configuration.api.accountDomain else {
                throw Self.fail("the configuration has no [api] account_domain (and no zone to take it from)", code: 78)
            }
            var general = ACMEDNSConfig()
            if let acmeDNSConfig { general = try ACMEDNSConfig(file: acmeDNSConfig) }
            if let domain = general.domain, domain != accountDomain {
                let zone = "[[zone]] name = \"\(domain.presentationWithoutDot)\", nameservers = [\"\((general.nsname ?? domain).presentationWithoutDot)\"]"
                    + (general.nsadmin.map { ", admin = \"\($0.presentationWithoutDot)\"" } ?? "")
                throw Self.fail("acme-dns serves accounts under \(domain) but cdnsd's account_domain is \(accountDomain): existing CNAMEs point at <subdomain>.\(domain.presentationWithoutDot); set [api] account_domain = \"\(domain.presentationWithoutDot)\" and serve that zone (\(zone))", code: 78)
            }
            let source = try await ACMEDNSDatabase.read(db)
            let now = Int64(Date().timeIntervalSince1970)
            var accounts: [Account] = []
            for row in source.accounts {
                let allowFrom: [String]
                if let text = row.allowFrom, !text.isEmpty, text != "null" {
                    guard let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] else {
                        throw Self.fail("account \(row.username): AllowFrom is not a JSON list of CIDRs: \(text)", code: 65)
                    }
                    allowFrom = parsed
                } else {
                    allowFrom = []
                }
                for cidr in allowFrom where IPNetwork(cidr) == nil {
                    throw Self.fail("account \(row.username): allowfrom \(cidr) is not a CIDR", code: 65)
                }
                guard row.password.hasPrefix("$2") else {
                    throw Self.fail("account \(row.username): the password is not a bcrypt hash", code: 65)
                }
                accounts.append(Account(username: row.username, passwordHash: row.password, subdomain: row.subdomain, allowFrom: allowFrom))
            }
            var challenges: [ChallengeRecord] = []
            for row in source.txt where !row.value.isEmpty {
                guard let owner = accounts.first(where: { $0.subdomain.lowercased() == row.subdomain.lowercased() }),
                      let name = try? DNSName(row.subdomain, origin: accountDomain) else { continue }
                let created = row.lastUpdate > 0 ? row.lastUpdate : now
                challenges.append(ChallengeRecord(name: name, value: row.value, owner: "account:\(owner.username)", createdAt: created,
                                                  expiresAt: now + Int64(configuration.challenge.expireAfter)))
            }
            let statics = general.records
            let plan = try await CredentialCommand.withStore(options) { store -> ImportPlan in
                let plan = ImportPlan(accounts: accounts, challenges: challenges, records: statics, accountDomain: accountDomain, view: store.view())
                if dryRun || plan.isEmpty { return plan }
                do {
                    let accounts = plan.accounts
                    let challenges = plan.challenges
                    let records = plan.records
                    _ = try await store.write { view throws(ZoneStoreError) in
                        var operations: [StoreOperation] = []
                        for account in accounts {
                            if let owner = view.account(subdomain: account.subdomain), owner.username != account.username {
                                throw ZoneStoreError(.conflict, "subdomain \(account.subdomain) belongs to account \(owner.username) here")
                            }
                            if view.account(username: account.username) != account { operations.append(.put(.account(account))) }
                        }
                        for challenge in challenges where !view.challenges(at: challenge.name).contains(where: { $0.value == challenge.value }) {
                            guard view.zone(containing: challenge.name) != nil else {
                                throw ZoneStoreError(.noSuchZone, name: challenge.name, "\(challenge.name) is in no zone served here")
                            }
                            operations.append(.put(.challenge(challenge)))
                        }
                        for record in records where !view.storedRecords(at: record.name).contains(where: { $0.record.type == record.type && $0.record.data == record.data }) {
                            try ZoneRecordStore.checkRuntimeRecord(record, view: view)
                            operations.append(.put(.record(record, fromConfiguration: false)))
                        }
                        return (operations, 1)
                    }
                } catch {
                    throw RecordCommand.refuse(error)
                }
                return plan
            }
            plan.print(dryRun: dryRun, accountDomain: accountDomain)
        }

        static func fail(_ message: String, code: Int32) -> ExitCode {
            FileHandle.standardError.write(Data("cdnsd: \(message)\n".utf8))
            return ExitCode(code)
        }
    }
}

/// What an import adds, worked out against the store (what is there already is left out).
struct ImportPlan {
    var accounts: [Account] = []
    var unchangedAccounts = 0
    var challenges: [ChallengeRecord] = []
    var records: [ResourceRecord] = []
    var notes: [String] = []

    init(accounts all: [Account], challenges allChallenges: [ChallengeRecord], records candidates: [ResourceRecord], accountDomain: DNSName, view: StoreView) {
        for account in all {
            if view.account(username: account.username) == account { unchangedAccounts += 1 } else { accounts.append(account) }
        }
        challenges = allChallenges.filter { challenge in !view.challenges(at: challenge.name).contains { $0.value == challenge.value } }
        for record in candidates {
            guard let zone = view.zone(containing: record.name) else {
                notes.append("skipped \(record): in no zone served here (add the zone first: cdnsd zone add)")
                continue
            }
            if record.type == .soa || (record.type == .ns && record.name == zone.origin) {
                notes.append("skipped \(record): the zone's SOA and apex NS come from its settings (nameservers = [...])")
                continue
            }
            if record.type == .ns && record.name == accountDomain {
                notes.append("skipped \(record): it would delegate the account domain away from cdnsd; serve \(accountDomain) as a [[zone]] instead")
                continue
            }
            if view.storedRecords(at: record.name).contains(where: { $0.record.type == record.type && $0.record.data == record.data }) { continue }
            records.append(record)
        }
    }

    var isEmpty: Bool { accounts.isEmpty && challenges.isEmpty && records.isEmpty }

    func print(dryRun: Bool, accountDomain: DNSName) {
        let verb = dryRun ? "would import" : "imported"
        for account in accounts {
            Swift.print("\(verb) account \(account.username) fulldomain=\(account.subdomain).\(accountDomain.presentationWithoutDot) allowfrom=\(account.allowFrom.isEmpty ? "any" : account.allowFrom.joined(separator: ","))")
        }
        for challenge in challenges { Swift.print("\(verb) TXT \(challenge.name) \"\(challenge.value)\"") }
        for record in records { Swift.print("\(verb) record \(record)") }
        for note in notes { Swift.print(note) }
        Swift.print("\(dryRun ? "dry run: " : "")\(accounts.count) accounts, \(challenges.count) TXT values, \(records.count) records \(dryRun ? "to import" : "imported"); \(unchangedAccounts) accounts already here")
    }
}

/// acme-dns's config.cfg: the parts that matter for serving its zone.
struct ACMEDNSConfig {
    var domain: DNSName?
    var nsname: DNSName?
    var nsadmin: DNSName?
    var records: [ResourceRecord] = []

    init() {}

    init(file: String) throws {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw ImportCommand.ACMEDNS.fail("cannot read \(file): \(error.localizedDescription)", code: 66)
        }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch {
            throw ImportCommand.ACMEDNS.fail("\(file) is not TOML: \(error)", code: 65)
        }
        guard let general = table["general"]?.table else { throw ImportCommand.ACMEDNS.fail("\(file) has no [general] section", code: 65) }
        func name(_ key: String) throws -> DNSName? {
            guard let text = general[key]?.string, !text.isEmpty else { return nil }
            guard let name = try? DNSName(text) else { throw ImportCommand.ACMEDNS.fail("\(file): [general] \(key) = \"\(text)\" is not a domain name", code: 65) }
            return name
        }
        domain = try name("domain")
        nsname = try name("nsname")
        nsadmin = try name("nsadmin")
        for item in general["records"]?.array.map(Array.init) ?? [] {
            guard let line = item.string else { continue }
            do {
                records.append(try ResourceRecord(presentation: line))
            } catch {
                throw ImportCommand.ACMEDNS.fail("\(file): records line \"\(line)\": \(error.detail)", code: 65)
            }
        }
    }
}

/// The two tables of an acme-dns database (DBVersion 1, the same from
/// acme-dns v0.5 through v1.1 and its 2.x refactoring branch:
/// `records(Username, Password, Subdomain, AllowFrom)` and
/// `txt(Subdomain, Value, LastUpdate)`, two txt rows per account).
struct ACMEDNSDatabase {
    struct AccountRow { var username, password, subdomain: String; var allowFrom: String? }
    struct TXTRow { var subdomain, value: String; var lastUpdate: Int64 }

    var accounts: [AccountRow] = []
    var txt: [TXTRow] = []

    static let accountQuery = "SELECT Username, CAST(Password AS TEXT), Subdomain, AllowFrom FROM records ORDER BY Username"
    static let txtQuery = "SELECT Subdomain, Value, CAST(coalesce(LastUpdate, 0) AS TEXT) FROM txt ORDER BY Subdomain, LastUpdate"

    static func read(_ location: String) async throws -> ACMEDNSDatabase {
        let tables: [[[String?]]]
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            var logger = Logger(label: "cdnsd.import")
            logger.logLevel = .warning
            do {
                tables = try await PostgresRows.read(url: location, queries: [accountQuery, txtQuery], logger: logger)
            } catch {
                throw ImportCommand.ACMEDNS.fail("\(error.detail)", code: 66)
            }
        } else {
            tables = try readSQLite(location, queries: [accountQuery, txtQuery])
        }
        var database = ACMEDNSDatabase()
        for row in tables[0] {
            guard row.count == 4, let username = row[0], let password = row[1], let subdomain = row[2] else { continue }
            database.accounts.append(AccountRow(username: username, password: unescapeBytea(password), subdomain: subdomain, allowFrom: row[3]))
        }
        for row in tables[1] {
            guard row.count == 3, let subdomain = row[0] else { continue }
            database.txt.append(TXTRow(subdomain: subdomain, value: row[1] ?? "", lastUpdate: Int64(row[2] ?? "0") ?? 0))
        }
        return database
    }

    /// acme-dns on PostgreSQL (lib/pq) may hand its `[]byte` hash over as
    /// bytea text (`\x2432...`): decoded back to `$2a$...`.
    static func unescapeBytea(_ text: String) -> String {
        guard text.hasPrefix("\\x"), text.count % 2 == 0 else { return text }
        var bytes: [UInt8] = []
        var index = text.index(text.startIndex, offsetBy: 2)
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return text }
            bytes.append(byte)
            index = next
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Opens the file read-only (never creates it) and runs `queries`.
    static func readSQLite(_ path: String, queries: [String]) throws -> [[[String?]]] {
        guard FileManager.default.isReadableFile(atPath: path) else { throw ImportCommand.ACMEDNS.fail("cannot read \(path)", code: 66) }
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw ImportCommand.ACMEDNS.fail("cannot open \(path) as SQLite: \(message)", code: 66)
        }
        defer { sqlite3_close(handle) }
        var results: [[[String?]]] = []
        for sql in queries {
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
                throw ImportCommand.ACMEDNS.fail("\(path) is not an acme-dns database (\(String(cString: sqlite3_errmsg(handle))))", code: 65)
            }
            defer { sqlite3_finalize(statement) }
            var rows: [[String?]] = []
            while true {
                let status = sqlite3_step(statement)
                if status == SQLITE_DONE { break }
                guard status == SQLITE_ROW else { throw ImportCommand.ACMEDNS.fail("\(path): \(String(cString: sqlite3_errmsg(handle)))", code: 65) }
                rows.append((0..<sqlite3_column_count(statement)).map { column in
                    sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : sqlite3_column_text(statement, column).map { String(cString: $0) }
                })
            }
            results.append(rows)
        }
        return results
    }
}
