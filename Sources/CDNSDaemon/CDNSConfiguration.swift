import DNSWire
import Foundation
import ChallengeAPI
import DNSServer
import NIOCore
import Logging
import TOMLKit
import ZoneStore

/// cdnsd's whole configuration: the TOML contract of `DESIGN.md`, with every
/// key overridable from the environment as `CDNS_<SECTION>_<KEY>`.
public struct CDNSConfiguration: Sendable {
    /// `[dns] protocol`.
    public enum DNSProtocols: String, CaseIterable, Sendable {
        case both, udp, tcp
    }

    /// `[api] tls`.
    public enum TLSMode: String, CaseIterable, Sendable {
        case none, file, acme
    }

    /// `[storage] engine`.
    public enum StorageEngine: String, CaseIterable, Sendable {
        case sqlite, postgres, memory
    }

    /// `[log] format`.
    public enum LogFormat: String, CaseIterable, Sendable {
        case text, json
    }

    public struct DNS: Sendable {
        public var listen: [SocketAddress]
        public var protocols: DNSProtocols
        public var udp: Bool { protocols != .tcp }
        public var tcp: Bool { protocols != .udp }
        /// Seconds a TCP connection may stay without a query.
        public var tcpIdleTimeout: Int
        /// Open TCP connections at most, over all listen addresses; when
        /// full, the longest-idle one is closed to admit a new one.
        public var tcpConnections: Int
        /// Open TCP connections at most from one /24 (IPv4) or /56 (IPv6).
        public var tcpConnectionsPerPrefix: Int = 100
        /// Seconds a begun TCP message may take to arrive whole.
        public var tcpMessageTimeout: Int = 2
        /// Seconds a TCP connection may stay open at all.
        public var tcpLifetime: Int = 120
        /// TCP replies not yet read by the client, at most, before the server stops reading.
        public var tcpRepliesInFlight: Int = 32
        /// EDNS UDP payload size advertised and honoured at most (`max_udp_size`).
        public var maxUDPSize: Int = 1232
        /// Response rate limiting (`rrl_*`); `rate` 0 turns it off.
        public var rateLimit = ResponseRateLimiter.Configuration()
        /// Threads answering DNS: UDP threads per listen address, and the
        /// event loops serving TCP. Default: the CPUs cdnsd may run on.
        public var threads: Int = CPUAffinity.usableCPUs
        /// Nice value for every thread but the DNS query threads
        /// (`background_nice`): queries first. 0 leaves them all alone.
        public var backgroundNice: Int = 19
    }

    public struct API: Sendable {
        /// Where the API listens; nil when `listen = ""` turns it off.
        public var listen: (host: String, port: Int)?
        public var tls: TLSMode
        public var certFile: String
        public var keyFile: String
        public var domain: String
        public var registration: Bool
        public var trustedProxies: [IPNetwork]
        public var corsOrigins: [String]
        /// The zone acme-dns accounts get their subdomain in (default: the first zone).
        public var accountDomain: DNSName?
        /// Largest request body in bytes.
        public var maxBodySize: Int
        /// Open connections at most (`max_connections`).
        public var maxConnections: Int = 512
        /// Seconds from accept (TLS handshake included) to a complete request head (`header_timeout`).
        public var headerTimeout: Int = 10
        /// Seconds from the request head to the end of the body (`body_timeout`).
        public var bodyTimeout: Int = 10
        /// Seconds a kept-alive connection may wait for its next request (`idle_timeout`).
        public var idleTimeout: Int = 60
        /// Failed authentications per client source and minute (`auth_failures_per_minute`); 0: off.
        public var authFailuresPerMinute: Int = 30
        /// `/register` calls per client source and minute (`registrations_per_minute`); 0: off.
        public var registrationsPerMinute: Int = 30
        /// Accounts `/register` may create in all (`max_accounts`); 0: no cap.
        public var maxAccounts: Int = 0
        /// Threads that run bcrypt (`bcrypt_threads`).
        public var bcryptThreads: Int = 1
        /// bcrypt runs that may wait for a thread (`bcrypt_queue`).
        public var bcryptQueue: Int = 32
        /// Where each key that was set came from (file or variable), for errors found later.
        var origins: [String: String] = [:]
    }

    public struct ACME: Sendable {
        public var directory: String
        public var email: String
        public var caRoots: String
        public var eabKID: String
        public var eabHMACKey: String
        var origins: [String: String] = [:]
    }

    public struct Storage: Sendable {
        public var engine: StorageEngine
        public var path: String
        public var url: String
        /// IXFR journal entries kept per zone (`journal_entries`).
        public var journalEntries: Int = 1000
        /// Seconds a journal entry is kept (`journal_max_age`).
        public var journalMaxAge: Int = 7 * 86400
        var origins: [String: String] = [:]

        /// The store's retention as these settings ask.
        public var retention: StoreRetention {
            StoreRetention(journalPerZone: journalEntries, journalMaxAge: Int64(journalMaxAge))
        }
    }

    public struct Challenge: Sendable {
        public var ttl: UInt32
        /// Seconds after which forgotten challenge records are removed.
        public var expireAfter: Int
        /// TTL and SOA minimum of negative answers at and below `_acme-challenge` names.
        public var negativeTTL: UInt32
        /// A live challenge does not hide the wildcard above its name.
        public var keepWildcards: Bool
        /// Live challenge values one name holds at most (`max_values_per_name`).
        public var maxValuesPerName: Int = 256
    }

    public struct Log: Sendable {
        public var level: Logger.Level
        public var format: LogFormat
    }

    /// A zone's `transfer` table and `notify` list.
    public struct ZoneTransfer: Sendable {
        /// nil when the zone has no `transfer` table: every transfer is refused.
        public var policy: TransferPolicy?
        public var notify: [SocketAddress]
        /// `notify_nameservers = true`: also notify the zone's NS hosts.
        public var notifyNameservers: Bool = false
    }

    public var dns: DNS
    public var zones: [ZoneConfiguration]
    /// Transfer ACL and NOTIFY targets of each zone, by origin.
    public var transfers: [DNSName: ZoneTransfer]
    public var api: API
    public var acme: ACME
    public var storage: Storage
    public var challenge: Challenge
    public var log: Log
    /// Static keys from `[[tsig]]` tables, secrets read; the store holds the others.
    public var tsigKeys: [TSIGKey]

    /// Where the configuration came from, for messages.
    public var source: String

    static let sections: [String: Set<String>] = [
        "dns": ["listen", "protocol", "tcp_idle_timeout", "tcp_connections", "tcp_connections_per_prefix", "tcp_message_timeout", "tcp_lifetime",
                "tcp_replies_in_flight", "max_udp_size", "rrl_rate", "rrl_slip", "rrl_ipv4_prefix", "rrl_ipv6_prefix", "rrl_table_size", "rrl_exempt", "threads", "background_nice"],
        "api": ["listen", "tls", "cert_file", "key_file", "domain", "registration", "trusted_proxies", "cors_origins", "account_domain", "max_body_size",
                "max_connections", "header_timeout", "body_timeout", "idle_timeout", "auth_failures_per_minute", "registrations_per_minute",
                "max_accounts", "bcrypt_threads", "bcrypt_queue"],
        "acme": ["directory", "email", "ca_roots", "eab_kid", "eab_hmac_key"],
        "storage": ["engine", "path", "url", "journal_entries", "journal_max_age"],
        "challenge": ["ttl", "expire_after", "negative_ttl", "keep_wildcards", "max_values_per_name"],
        "log": ["level", "format"],
    ]
    static let zoneKeys: Set<String> = ["name", "nameservers", "admin", "ttl", "negative_ttl", "refresh", "retry", "expire", "records", "transfer", "notify", "notify_nameservers"]
    /// A zone's `transfer = { … }` inline table.
    static let transferKeys: Set<String> = ["allow", "keys"]

    /// Every table the parser reads and the keys it accepts in each, by the
    /// path errors show (`dns`, `zone`, `zone.transfer`, `tsig`): the same
    /// sets the "unknown key" check refuses others with, so
    /// Docs/configuration.md is checked against what the parser knows.
    public static var keyTables: [String: Set<String>] {
        sections.merging(["zone": zoneKeys, "zone.transfer": transferKeys, "tsig": tsigTableKeys]) { $1 }
    }

    /// Every `CDNS_*` variable the environment may set, with `<N>` for a
    /// zone's index: `CDNS_<SECTION>_<KEY>` for every section key and
    /// `CDNS_ZONE_<N>_<KEY>` for every zone key (`[[tsig]]` tables and the
    /// keys inside `transfer` have none of their own).
    public static var environmentVariables: Set<String> {
        var names: Set<String> = []
        for (section, keys) in sections { for key in keys { names.insert("CDNS_\(section.uppercased())_\(key.uppercased())") } }
        for key in zoneKeys { names.insert("CDNS_ZONE_<N>_\(key.uppercased())") }
        return names
    }

    /// The zone served when no configuration file is given, so that
    /// `dig @127.0.0.1 -p 5353 www.demo.test` answers at once.
    public static let demoTOML = """
        [dns]
        listen = ["127.0.0.1:5353", "[::1]:5353"]

        [[zone]]
        name = "demo.test"
        nameservers = ["dns.demo.test"]
        admin = "admin.demo.test"
        ttl = 3600
        records = [
          "*.demo.test. A 10.8.10.252",
          "ca.demo.test. A 10.8.10.254",
          "dns.demo.test. A 127.0.0.1",
          "demo.test. TXT \\"cdnsd demo zone\\"",
        ]
        """

    /// Loads `file`, or the demo configuration when `file` is nil, then
    /// applies `CDNS_*` variables from `environment`. Without `records`,
    /// the zones' `records` lists are neither read nor checked (and the
    /// zones come without them): for commands that touch no zone, so that
    /// their cost does not grow with the zones.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment, serial: UInt32 = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)),
                            records: Bool = true) throws(ConfigurationError) -> CDNSConfiguration {
        let source = file ?? "built-in demo configuration"
        let text: String
        if let file {
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigurationError(source: file, key: "(file)", reason: "cannot read: \(error.localizedDescription)")
            }
        } else {
            text = demoTOML
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(source: source, key: "(syntax)", reason: "\(error.description) at line \(error.source.begin.line), column \(error.source.begin.column)")
        } catch {
            throw ConfigurationError(source: source, key: "(syntax)", reason: "\(error)")
        }
        guard case .table(let root) = ConfigValue(toml: table) else {
            throw ConfigurationError(source: source, key: "(syntax)", reason: "not a TOML document")
        }
        return try CDNSConfiguration(root: root, source: source, environment: environment, serial: serial, records: records)
    }

    init(root: [String: ConfigValue], source: String, environment: [String: String], serial: UInt32, records: Bool = true) throws(ConfigurationError) {
        self.source = source
        for key in root.keys.sorted() where key != "zone" && key != "tsig" && Self.sections[key] == nil {
            throw ConfigurationError(source: source, key: key, reason: "unknown section; expected one of \((Self.sections.keys.sorted() + ["tsig", "zone"]).joined(separator: ", "))")
        }
        let overrides = try EnvironmentOverrides(environment)
        func section(_ name: String) throws(ConfigurationError) -> ConfigReader {
            var entries: [String: ConfigEntry] = [:]
            switch root[name] {
            case nil: break
            case .table(let table)?:
                for (key, value) in table { entries[key] = ConfigEntry(value: value, origin: source) }
            case let other?: throw ConfigurationError(source: source, key: name, value: other.description, reason: "expected a [\(name)] table")
            }
            entries.merge(overrides.sections[name] ?? [:]) { $1 }
            return try ConfigReader(source: source, path: name, entries: entries, known: Self.sections[name] ?? [])
        }

        let dnsSection = try section("dns")
        var listen: [SocketAddress] = []
        let listenTexts = try dnsSection.strings("listen", default: ["127.0.0.1:5353", "[::1]:5353"])
        guard !listenTexts.isEmpty else {
            throw dnsSection.error("listen", dnsSection.value("listen"), "needs at least one HOST:PORT, e.g. 127.0.0.1:5353")
        }
        for (index, text) in listenTexts.enumerated() {
            guard let address = Self.socketAddress(text) else {
                throw dnsSection.error("listen", .string(text), "expected HOST:PORT with an IP address, e.g. 127.0.0.1:5353 or [::1]:5353", display: "listen[\(index)]")
            }
            listen.append(address)
        }
        dns = DNS(
            listen: listen, protocols: try dnsSection.choice("protocol", default: DNSProtocols.both),
            tcpIdleTimeout: try dnsSection.duration("tcp_idle_timeout", default: 10, range: 1...3600),
            tcpConnections: try dnsSection.int("tcp_connections", default: 1000, range: 1...1_000_000))
        dns.tcpConnectionsPerPrefix = try dnsSection.int("tcp_connections_per_prefix", default: 100, range: 1...1_000_000)
        dns.tcpMessageTimeout = try dnsSection.duration("tcp_message_timeout", default: 2, range: 1...300)
        dns.tcpLifetime = try dnsSection.duration("tcp_lifetime", default: 120, range: 1...86400)
        dns.tcpRepliesInFlight = try dnsSection.int("tcp_replies_in_flight", default: 32, range: 1...65535)
        dns.maxUDPSize = try dnsSection.int("max_udp_size", default: 1232, range: 512...4096)
        var exempt: [IPNetwork] = []
        for (index, text) in try dnsSection.strings("rrl_exempt", default: ["127.0.0.0/8", "::1/128"]).enumerated() {
            guard let network = IPNetwork(text) else {
                throw dnsSection.error("rrl_exempt", .string(text), "expected a CIDR such as 10.0.0.0/8 or an address", display: "rrl_exempt[\(index)]")
            }
            exempt.append(network)
        }
        dns.rateLimit = ResponseRateLimiter.Configuration(
            rate: try dnsSection.int("rrl_rate", default: 200, range: 0...1_000_000),
            slip: try dnsSection.int("rrl_slip", default: 2, range: 0...100),
            ipv4PrefixLength: try dnsSection.int("rrl_ipv4_prefix", default: 24, range: 8...32),
            ipv6PrefixLength: try dnsSection.int("rrl_ipv6_prefix", default: 56, range: 16...128),
            tableSize: try dnsSection.int("rrl_table_size", default: 65536, range: 1024...16_777_216),
            exempt: exempt)
        dns.threads = try dnsSection.int("threads", default: CPUAffinity.usableCPUs, range: 1...1024)
        dns.backgroundNice = try dnsSection.int("background_nice", default: 19, range: 0...19)

        var zoneTables: [(entries: [String: ConfigEntry], source: String)] = []
        switch root["zone"] {
        case nil: break
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                guard case .table(let table) = item else {
                    throw ConfigurationError(source: source, key: "zone[\(index)]", value: item.description, reason: "expected a [[zone]] table")
                }
                zoneTables.append((table.mapValues { ConfigEntry(value: $0, origin: source) }, source))
            }
        case let other?:
            throw ConfigurationError(source: source, key: "zone", value: other.description, reason: "expected [[zone]] tables")
        }
        for (index, entries) in overrides.zones.sorted(by: { $0.key < $1.key }) {
            if index < zoneTables.count {
                zoneTables[index].entries.merge(entries) { $1 }
            } else if index == zoneTables.count {
                zoneTables.append((entries, "environment (CDNS_ZONE_\(index)_*)"))
            } else {
                let variable = entries.values.map(\.origin).sorted().first ?? "CDNS_ZONE_\(index)_*"
                throw ConfigurationError(source: variable, key: "zone[\(index)]",
                                         reason: "zones are numbered from 0 without gaps: there is no zone[\(zoneTables.count)] to follow")
            }
        }
        var zones: [ZoneConfiguration] = []
        var transfers: [DNSName: ZoneTransfer] = [:]
        for (index, table) in zoneTables.enumerated() {
            let zone = try Self.zone(table.entries, index: index, source: table.source, serial: serial, records: records)
            zones.append(zone)
            transfers[zone.origin] = try Self.transfer(table.entries, index: index, source: table.source)
        }
        var seen: Set<DNSName> = []
        for (index, zone) in zones.enumerated() where !seen.insert(zone.origin).inserted {
            throw ConfigurationError(source: zoneTables[index].entries["name"]?.origin ?? source, key: "zone[\(index)].name", value: "\"\(zone.origin)\"", reason: "zone defined twice")
        }
        self.zones = zones
        self.transfers = transfers

        let apiSection = try section("api")
        let apiListen = try apiSection.string("listen", default: "127.0.0.1:8053")
        var apiAddress: (host: String, port: Int)? = nil
        if !apiListen.isEmpty {
            guard let address = Self.socketAddress(apiListen), let host = address.ipAddress, let port = address.port else {
                throw apiSection.error("listen", .string(apiListen), "expected HOST:PORT with an IP address, e.g. 127.0.0.1:8053, or \"\" to turn the API off")
            }
            apiAddress = (host, port)
        }
        var trustedProxies: [IPNetwork] = []
        for (index, text) in try apiSection.strings("trusted_proxies", default: []).enumerated() {
            guard let network = IPNetwork(text) else {
                throw apiSection.error("trusted_proxies", .string(text), "expected a CIDR such as 10.0.0.0/8 or an address", display: "trusted_proxies[\(index)]")
            }
            trustedProxies.append(network)
        }
        let tls = try apiSection.choice("tls", default: TLSMode.none)
        let certFile = try apiSection.string("cert_file", default: "")
        let keyFile = try apiSection.string("key_file", default: "")
        if tls == .file {
            for (key, value) in [("cert_file", certFile), ("key_file", keyFile)] where value.isEmpty {
                throw apiSection.error(key, .string(value), "tls = \"file\" needs cert_file and key_file (PEM)", blame: apiSection.entries[key] == nil ? "tls" : key)
            }
        }
        let accountDomainText = try apiSection.string("account_domain", default: zones.first.map { $0.origin.description } ?? "")
        var accountDomain: DNSName? = nil
        if !accountDomainText.isEmpty {
            guard let name = try? DNSName(accountDomainText), zones.contains(where: { name.isSubdomain(of: $0.origin) }) else {
                throw apiSection.error("account_domain", .string(accountDomainText), "must be a name inside one of the [[zone]]s")
            }
            accountDomain = name
        }
        api = API(
            listen: apiAddress, tls: tls, certFile: certFile, keyFile: keyFile,
            domain: try apiSection.string("domain", default: ""),
            registration: try apiSection.bool("registration", default: true),
            trustedProxies: trustedProxies,
            corsOrigins: try apiSection.strings("cors_origins", default: []),
            accountDomain: accountDomain,
            maxBodySize: try apiSection.int("max_body_size", default: 16384, range: 256...(1 << 20)),
            maxConnections: try apiSection.int("max_connections", default: 512, range: 1...1_000_000),
            headerTimeout: try apiSection.duration("header_timeout", default: 10, range: 1...3600),
            bodyTimeout: try apiSection.duration("body_timeout", default: 10, range: 1...3600),
            idleTimeout: try apiSection.duration("idle_timeout", default: 60, range: 1...86400),
            authFailuresPerMinute: try apiSection.int("auth_failures_per_minute", default: 30, range: 0...1_000_000),
            registrationsPerMinute: try apiSection.int("registrations_per_minute", default: 30, range: 0...1_000_000),
            maxAccounts: try apiSection.int("max_accounts", default: 0, range: 0...100_000_000),
            bcryptThreads: try apiSection.int("bcrypt_threads", default: 1, range: 1...256),
            bcryptQueue: try apiSection.int("bcrypt_queue", default: 32, range: 0...100_000),
            origins: apiSection.entries.mapValues(\.origin))
        let acmeSection = try section("acme")
        acme = ACME(
            directory: try acmeSection.string("directory", default: ""),
            email: try acmeSection.string("email", default: ""),
            caRoots: try acmeSection.string("ca_roots", default: ""),
            eabKID: try acmeSection.string("eab_kid", default: ""),
            eabHMACKey: try acmeSection.string("eab_hmac_key", default: ""),
            origins: acmeSection.entries.mapValues(\.origin))
        let storageSection = try section("storage")
        storage = Storage(
            engine: try storageSection.choice("engine", default: StorageEngine.sqlite),
            path: try storageSection.string("path", default: "cdnsd-data/cdnsd.sqlite"),
            url: try storageSection.string("url", default: ""),
            journalEntries: try storageSection.int("journal_entries", default: 1000, range: 1...1_000_000),
            journalMaxAge: try storageSection.duration("journal_max_age", default: 7 * 86400, range: 60...(366 * 86400)),
            origins: storageSection.entries.mapValues(\.origin))
        let challengeSection = try section("challenge")
        challenge = Challenge(
            ttl: UInt32(try challengeSection.int("ttl", default: 60, range: 0...86400)),
            expireAfter: try challengeSection.duration("expire_after", default: 3600, range: 30...(7 * 86400)),
            negativeTTL: UInt32(try challengeSection.duration("negative_ttl", default: 5, range: 0...86400)),
            keepWildcards: try challengeSection.bool("keep_wildcards", default: true),
            maxValuesPerName: try challengeSection.int("max_values_per_name", default: 256, range: 2...1000))
        tsigKeys = try Self.staticTSIGKeys(root["tsig"], source: source, environment: environment)
        let logSection = try section("log")
        log = Log(
            level: try logSection.choice("level", default: Logger.Level.info),
            format: try logSection.choice("format", default: LogFormat.text))
    }

    static func zone(_ table: [String: ConfigEntry], index: Int, source: String, serial: UInt32, records readRecords: Bool = true) throws(ConfigurationError) -> ZoneConfiguration {
        let reader = try ConfigReader(source: source, path: "zone[\(index)]", entries: table, known: zoneKeys)
        // Names in the configuration are absolute with or without the final
        // dot, as in acme-dns (`nameservers = ["dns.svc.dev"]`).
        func name(_ key: String, _ text: String, display: String? = nil) throws(ConfigurationError) -> DNSName {
            do {
                return try DNSName(text)
            } catch {
                throw reader.error(key, .string(text), "not a domain name: \(error.detail)", display: display)
            }
        }
        let originText = try reader.string("name", default: "")
        guard !originText.isEmpty else {
            throw reader.error("name", reader.value("name"), "every [[zone]] needs a name, e.g. name = \"svc.dev\"")
        }
        let origin = try name("name", originText)
        var nameservers: [DNSName] = []
        for (position, text) in try reader.strings("nameservers", default: ["ns.\(origin)"]).enumerated() {
            nameservers.append(try name("nameservers", text, display: "nameservers[\(position)]"))
        }
        guard !nameservers.isEmpty else { throw reader.error("nameservers", reader.value("nameservers"), "a zone needs at least one name server") }
        let admin = try name("admin", try reader.string("admin", default: "hostmaster.\(origin)"))
        let ttl = UInt32(try reader.duration("ttl", default: 3600, range: 0...Int(Int32.max)))
        let negativeTTL = UInt32(try reader.duration("negative_ttl", default: 300, range: 0...86400))
        var records: [ResourceRecord] = []
        for (position, line) in (readRecords ? try reader.strings("records", default: []) : []).enumerated() {
            // acme-dns style lines are absolute without a final dot; a line
            // whose owner then falls outside the zone is read as a zone file
            // line, relative to the zone (`www A 10.0.0.1`).
            var record: ResourceRecord
            do {
                record = try ResourceRecord(presentation: line, defaultTTL: ttl)
                if !record.name.isSubdomain(of: origin) {
                    record = try ResourceRecord(presentation: line, origin: origin, defaultTTL: ttl)
                }
            } catch {
                throw reader.error("records", .string(line), "not a record: \(error.detail)", display: "records[\(position)]")
            }
            guard record.name.isSubdomain(of: origin) else {
                throw reader.error("records", .string(line), "\(record.name) is outside zone \(origin)", display: "records[\(position)]")
            }
            records.append(record)
        }
        let zone = ZoneConfiguration(
            origin: origin, nameservers: nameservers, admin: admin, ttl: ttl, negativeTTL: negativeTTL,
            refresh: UInt32(try reader.duration("refresh", default: 7200, range: 1...Int(Int32.max))),
            retry: UInt32(try reader.duration("retry", default: 3600, range: 1...Int(Int32.max))),
            expire: UInt32(try reader.duration("expire", default: 1_209_600, range: 1...Int(Int32.max))),
            serial: serial, records: records)
        do {
            try ZoneIndex.validate(origin: origin, records: try zone.validatedRecords())
        } catch {
            throw reader.error("records", nil, error.description)
        }
        return zone
    }

    /// The `transfer = { allow = [...], keys = [...] }` table and `notify`
    /// list of a zone. From the environment, `CDNS_ZONE_<N>_NOTIFY` is a
    /// comma-separated list and `CDNS_ZONE_<N>_TRANSFER` the inline table
    /// as TOML writes it (`{ allow = ["10.0.0.0/8"], keys = ["sec1"] }`).
    static func transfer(_ table: [String: ConfigEntry], index: Int, source: String) throws(ConfigurationError) -> ZoneTransfer {
        let zone = try ConfigReader(source: source, path: "zone[\(index)]", entries: table, known: zoneKeys)
        var policy: TransferPolicy? = nil
        if let entry = table["transfer"] {
            var value = entry.value
            if case .environment(let text) = value {
                guard let parsed = try? TOMLTable(string: "transfer = " + text), let inner = parsed["transfer"], case .table(let fields) = ConfigValue(toml: inner) else {
                    throw zone.error("transfer", value, "expected an inline table, e.g. { allow = [\"10.0.0.0/8\"], keys = [\"sec1\"] }")
                }
                value = .table(fields)
            }
            guard case .table(let fields) = value else {
                throw zone.error("transfer", value, "expected a table, e.g. transfer = { allow = [\"10.0.0.0/8\"], keys = [\"sec1\"] }")
            }
            let reader = try ConfigReader(source: entry.origin, path: "zone[\(index)].transfer", entries: fields.mapValues { ConfigEntry(value: $0, origin: entry.origin) },
                                          known: transferKeys)
            var allow: [IPNetwork] = []
            for (position, text) in try reader.strings("allow", default: []).enumerated() {
                guard let network = IPNetwork(text) else {
                    throw reader.error("allow", .string(text), "expected a CIDR such as 10.0.0.0/8 or an address", display: "allow[\(position)]")
                }
                allow.append(network)
            }
            var keys: [DNSName] = []
            for (position, text) in try reader.strings("keys", default: []).enumerated() {
                guard let name = try? DNSName(text), !name.isRoot else {
                    throw reader.error("keys", .string(text), "expected a TSIG key name (cdnsd tsig add NAME --transfer)", display: "keys[\(position)]")
                }
                keys.append(name)
            }
            policy = TransferPolicy(allow: allow, keys: keys)
        }
        var notify: [SocketAddress] = []
        for (position, text) in try zone.strings("notify", default: []).enumerated() {
            guard let address = socketAddress(text) else {
                throw zone.error("notify", .string(text), "expected HOST:PORT with an IP address, e.g. 10.0.0.2:53 or [fd00::2]:53", display: "notify[\(position)]")
            }
            notify.append(address)
        }
        return ZoneTransfer(policy: policy, notify: notify, notifyNameservers: try zone.bool("notify_nameservers", default: false))
    }

    /// `127.0.0.1:5353` or `[::1]:5353`.
    static func socketAddress(_ text: String) -> SocketAddress? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port) else { return nil }
        return try? SocketAddress(ipAddress: String(host), port: port)
    }
}

/// The `CDNS_*` variables, sorted into sections (`CDNS_<SECTION>_<KEY>`)
/// and zones (`CDNS_ZONE_<N>_<KEY>`, N from 0). Any other `CDNS_*`
/// variable is an error, as an unknown TOML key is.
struct EnvironmentOverrides {
    var sections: [String: [String: ConfigEntry]] = [:]
    var zones: [Int: [String: ConfigEntry]] = [:]

    init(_ environment: [String: String]) throws(ConfigurationError) {
        for name in environment.keys.sorted() where name.hasPrefix("CDNS_") {
            let value = environment[name] ?? ""
            let rest = name.dropFirst("CDNS_".count)
            if rest.hasPrefix("ZONE_") {
                let tail = rest.dropFirst("ZONE_".count)
                let digits = tail.prefix(while: { $0.isASCII && $0.isNumber })
                guard !digits.isEmpty, digits.count <= 4, let index = Int(digits), tail.dropFirst(digits.count).hasPrefix("_") else {
                    throw Self.unknown(name, value, "zone variables are CDNS_ZONE_<N>_<KEY>, N counting [[zone]] tables from 0")
                }
                let key = String(tail.dropFirst(digits.count + 1))
                guard let known = CDNSConfiguration.zoneKeys.first(where: { $0.uppercased() == key }) else {
                    throw Self.unknown(name, value, "a zone takes \(CDNSConfiguration.zoneKeys.sorted().map { "CDNS_ZONE_\(index)_\($0.uppercased())" }.joined(separator: ", "))")
                }
                zones[index, default: [:]][known] = .variable(name, value)
                continue
            }
            guard let section = CDNSConfiguration.sections.keys.first(where: { rest.hasPrefix($0.uppercased() + "_") }) else {
                throw Self.unknown(name, value, "expected CDNS_<SECTION>_<KEY> with a section of \((CDNSConfiguration.sections.keys.sorted() + ["zone"]).joined(separator: ", "))")
            }
            let keys = CDNSConfiguration.sections[section] ?? []
            let key = String(rest.dropFirst(section.count + 1))
            guard let known = keys.first(where: { $0.uppercased() == key }) else {
                throw Self.unknown(name, value, "[\(section)] takes \(keys.sorted().map { "CDNS_\(section.uppercased())_\($0.uppercased())" }.joined(separator: ", "))")
            }
            sections[section, default: [:]][known] = .variable(name, value)
        }
    }

    static func unknown(_ name: String, _ value: String, _ expected: String) -> ConfigurationError {
        ConfigurationError(source: "environment (\(name))", key: name, value: "\"\(value)\"", reason: "unknown variable; \(expected)")
    }
}

extension DNSListenerConfiguration {
    /// `[dns]` as the listener takes it: the one place that maps it, for
    /// `serve` and for `cert issue` serving DNS on its own.
    init(_ dns: CDNSConfiguration.DNS) {
        self.init(
            addresses: dns.listen, udp: dns.udp, tcp: dns.tcp, maxUDPPayload: UInt16(dns.maxUDPSize),
            tcpLimits: TCPLimits(
                maxConnections: dns.tcpConnections, maxConnectionsPerPrefix: dns.tcpConnectionsPerPrefix,
                idleTimeout: .seconds(Int64(dns.tcpIdleTimeout)), messageTimeout: .seconds(Int64(dns.tcpMessageTimeout)),
                lifetime: .seconds(Int64(dns.tcpLifetime)), maxRepliesInFlight: dns.tcpRepliesInFlight),
            rateLimit: dns.rateLimit, udpThreads: dns.threads)
        backgroundNice = dns.backgroundNice
    }
}
