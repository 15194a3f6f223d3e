import ArgumentParser
import ChallengeAPI
import DNSWire
import Foundation
import ZoneStore

/// `cdnsd account add|list|remove`: acme-dns accounts, registered from the
/// command line together with the `_acme-challenge` CNAMEs that point at
/// them, and printed in the files lego/Traefik and certbot-dns-acmedns read.
struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Register acme-dns accounts with their _acme-challenge CNAMEs, list and remove them.",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an acme-dns account (as POST /register does) and add _acme-challenge.NAME CNAME <fulldomain> in the same transaction.",
            discussion: """
                Example: cdnsd account add --for app.svc.dev --certbot-file /etc/letsencrypt/acmedns.json
                Standard output is one JSON object keyed by each NAME, readable both as certbot-dns-acmedns's
                acmedns.json (username, password, fulldomain, subdomain, allowfrom) and as lego/Traefik's
                ACME_DNS_STORAGE_PATH file (fulldomain, subdomain, username, password, server_url).
                --lego-file and --certbot-file write (or merge into) each tool's own file, mode 0600.
                For a NAME outside the served zones the CNAME to add by hand is printed on standard error.
                """)

        @OptionGroup var options: ConfigOptions
        @Option(name: .customLong("for"), help: "Name certificates are issued for (repeatable); *.NAME counts as NAME.") var names: [String] = []
        @Option(name: .customLong("allowfrom"), help: "CIDR /update may come from (repeatable; none allows every source).") var allowFrom: [String] = []
        @Option(name: .customLong("server-url"), help: "The API's URL for lego's server_url (default from [api]).") var serverURL: String?
        @Option(name: .customLong("lego-file"), help: "Write or merge lego/Traefik's ACME_DNS_STORAGE_PATH file here.") var legoFile: String?
        @Option(name: .customLong("certbot-file"), help: "Write or merge certbot-dns-acmedns's acmedns.json here.") var certbotFile: String?

        func validate() throws {
            guard !names.isEmpty else { throw ValidationError("give at least one --for NAME, e.g. --for app.svc.dev") }
            for name in names where (try? DNSName(Self.base(name))) == nil {
                throw ValidationError("--for \(name) is not a domain name")
            }
            for cidr in allowFrom where IPNetwork(cidr) == nil {
                throw ValidationError("--allowfrom \(cidr): expected a CIDR such as 10.0.0.0/8")
            }
        }

        /// `*.app.svc.dev` and `app.svc.dev` share `_acme-challenge.app.svc.dev`.
        static func base(_ name: String) -> String {
            var text = name.hasPrefix("*.") ? String(name.dropFirst(2)) : name
            if text.hasSuffix(".") { text.removeLast() }
            return text
        }

        func run() async throws {
            let configuration = try options.load()
            guard let accountDomain = configuration.api.accountDomain else {
                FileHandle.standardError.write(Data("cdnsd: no [api] account_domain (and no zone to take it from)\n".utf8))
                throw ExitCode(78)
            }
            let username = SecretGenerator.uuid()
            let subdomain = SecretGenerator.uuid()
            let password = SecretGenerator.password()
            let hash = try await SecretGenerator.hash(password)
            let account = Account(username: username, passwordHash: hash, subdomain: subdomain, allowFrom: allowFrom)
            let fulldomain = try DNSName("\(subdomain).\(accountDomain.presentationWithoutDot)")
            let keys = names.map(Self.base)
            var unique: [String] = []
            for key in keys where !unique.contains(key) { unique.append(key) }
            let challengeNames = try unique.map { try DNSName("_acme-challenge.\($0)") }
            let added: [ResourceRecord] = try await CredentialCommand.withStore(options) { store in
                do {
                    _ = try await store.write { view throws(ZoneStoreError) in
                        guard view.zone(containing: fulldomain) != nil else {
                            throw ZoneStoreError(.noSuchZone, name: fulldomain, "the account domain \(accountDomain) is in no zone served here")
                        }
                        var operations: [StoreOperation] = [.put(.account(account))]
                        for name in challengeNames {
                            guard let zone = view.zone(containing: name) else { continue }
                            let cname = ResourceRecord(name: name, ttl: zone.ttl, data: .cname(fulldomain))
                            try ZoneRecordStore.checkRuntimeRecord(cname, view: view)
                            operations.append(.put(.record(cname, fromConfiguration: false)))
                        }
                        return (operations, 1)
                    }
                    let view = store.view()
                    return challengeNames.flatMap { name in
                        view.storedRecords(at: name).map(\.record).filter { $0.data == .cname(fulldomain) }
                    }
                } catch {
                    throw RecordCommand.refuse(error)
                }
            }
            for record in added { FileHandle.standardError.write(Data("cdnsd: added \(record)\n".utf8)) }
            for name in challengeNames where !added.contains(where: { $0.name == name }) {
                FileHandle.standardError.write(Data("cdnsd: \(name) is not in a zone served here; add this record where it is served:\n  \(name) CNAME \(fulldomain)\n".utf8))
            }
            var server = serverURL ?? ""
            if serverURL == nil, let listen = configuration.api.listen {
                let scheme = configuration.api.tls == .none ? "http" : "https"
                let host = configuration.api.tls == .acme && !configuration.api.domain.isEmpty ? configuration.api.domain : listen.host
                server = "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(listen.port)"
            }
            let registration = AccountFiles.Registration(
                username: username, password: password, fulldomain: fulldomain.presentationWithoutDot, subdomain: subdomain,
                allowFrom: allowFrom, serverURL: server)
            if let legoFile { try AccountFiles.merge(path: legoFile, names: unique, entry: registration.lego) }
            if let certbotFile { try AccountFiles.merge(path: certbotFile, names: unique, entry: registration.certbot) }
            var combined: [String: Any] = [:]
            for name in unique { combined[name] = registration.lego.merging(registration.certbot) { first, _ in first } }
            print(try AccountFiles.text(combined))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List acme-dns accounts: username, fulldomain, allowfrom and the CNAMEs that point at them.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let configuration = try options.load()
            let view = try await CredentialCommand.withStore(options) { store in store.view() }
            if view.accounts.isEmpty { print("no accounts") }
            for account in view.accounts {
                let fulldomain = configuration.api.accountDomain.flatMap { try? DNSName(account.subdomain, origin: $0) }
                let cnames = fulldomain.map { AccountFiles.cnames(to: $0, view: view).map(\.record.name.description) } ?? []
                print("\(account.username)\tfulldomain=\(fulldomain?.presentationWithoutDot ?? account.subdomain)\tallowfrom=\(account.allowFrom.isEmpty ? "any" : account.allowFrom.joined(separator: ","))\tcnames=\(cnames.isEmpty ? "-" : cnames.joined(separator: ","))")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account, its challenge values and the runtime CNAMEs that point at it, in one transaction.")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "The account's username.") var username: String

        func run() async throws {
            let configuration = try options.load()
            let accountDomain = configuration.api.accountDomain
            let removed = try await CredentialCommand.withStore(options) { store -> [ResourceRecord]? in
                do {
                    let before = store.view()
                    let fulldomain = before.account(username: username).flatMap { account in accountDomain.flatMap { try? DNSName(account.subdomain, origin: $0) } }
                    let found = try await store.write { view throws(ZoneStoreError) in
                        guard let account = view.account(username: username) else { return ([], 0) }
                        var operations: [StoreOperation] = [.delete(.account(account))]
                        if let accountDomain, let fulldomain = try? DNSName(account.subdomain, origin: accountDomain) {
                            for entry in AccountFiles.cnames(to: fulldomain, view: view) where !entry.fromConfiguration {
                                operations.append(.delete(.record(entry.record, fromConfiguration: false)))
                            }
                            operations += view.challenges(at: fulldomain).map { .delete(.challenge($0)) }
                        }
                        return (operations, 1)
                    }
                    guard found > 0 else { return nil }
                    let cnames = fulldomain.map { AccountFiles.cnames(to: $0, view: before) } ?? []
                    for entry in cnames where entry.fromConfiguration {
                        FileHandle.standardError.write(Data("cdnsd: \(entry.record) comes from the configuration file: remove it there\n".utf8))
                    }
                    return cnames.filter { !$0.fromConfiguration }.map(\.record)
                } catch {
                    throw RecordCommand.refuse(error)
                }
            }
            guard let removed else {
                FileHandle.standardError.write(Data("cdnsd: no account \(username)\n".utf8))
                throw ExitCode(1)
            }
            print("removed account \(username)")
            for record in removed { print("removed \(record)") }
        }
    }
}

/// The client-side files an account is written to.
enum AccountFiles {
    struct Registration {
        var username, password, fulldomain, subdomain: String
        var allowFrom: [String]
        var serverURL: String

        /// goacmedns's `Account` (nrdcg/goacmedns v0.2.0, which lego v5.3.1's
        /// acme-dns provider reads through `storage.NewFile(path, 0o600)`).
        var lego: [String: Any] {
            ["fulldomain": fulldomain, "subdomain": subdomain, "username": username, "password": password, "server_url": serverURL]
        }

        /// certbot-dns-acmedns 0.1.0: the /register response.
        var certbot: [String: Any] {
            ["username": username, "password": password, "fulldomain": fulldomain, "subdomain": subdomain, "allowfrom": allowFrom]
        }
    }

    static func text(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted])
        return String(decoding: data, as: UTF8.self)
    }

    /// Adds `entry` under each name to the JSON object in `path` (made when
    /// missing), keeping other names; the file ends up mode 0600.
    static func merge(path: String, names: [String], entry: [String: Any]) throws {
        var object: [String: Any] = [:]
        if let data = FileManager.default.contents(atPath: path), !data.isEmpty {
            guard let existing = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ValidationError("\(path) exists and is not a JSON object; not overwriting it")
            }
            object = existing
        }
        for name in names { object[name] = entry }
        try AtomicFile.write(Data((try text(object) + "\n").utf8), to: path, mode: 0o600)
        FileHandle.standardError.write(Data("cdnsd: wrote \(path)\n".utf8))
    }

    /// Stored CNAMEs whose target is `fulldomain`.
    static func cnames(to fulldomain: DNSName, view: StoreView) -> [(record: ResourceRecord, fromConfiguration: Bool)] {
        view.zones.flatMap { view.storedRecords(in: $0.configuration.origin) }.filter { entry in
            if case .cname(let target) = entry.record.data { return target == fulldomain }
            return false
        }
    }
}
