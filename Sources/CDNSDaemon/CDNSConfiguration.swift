import DNSWire
import Foundation
import ChallengeAPI
import NIOCore
import TOMLKit
import ZoneStore

/// cdnsd's whole configuration: the TOML contract of `DESIGN.md`, with every
/// key overridable from the environment as `CDNS_<SECTION>_<KEY>`.
public struct CDNSConfiguration: Sendable {
    public struct DNS: Sendable {
        public var listen: [SocketAddress]
        public var udp: Bool
        public var tcp: Bool
        /// Seconds a TCP connection may stay without a query.
        public var tcpIdleTimeout: Int
        /// Open TCP connections beyond this are closed on accept.
        public var tcpConnections: Int
    }

    public struct API: Sendable {
        /// Where the API listens; nil when `listen = ""` turns it off.
        public var listen: (host: String, port: Int)?
        public var tls: String
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
    }

    public struct ACME: Sendable {
        public var directory: String
        public var email: String
        public var caRoots: String
        public var eabKID: String
        public var eabHMACKey: String
    }

    public struct Storage: Sendable {
        public var engine: String
        public var path: String
        public var url: String
    }

    public struct Challenge: Sendable {
        public var ttl: UInt32
        /// Seconds after which forgotten challenge records are removed.
        public var expireAfter: Int
        /// TTL and SOA minimum of negative answers at and below `_acme-challenge` names.
        public var negativeTTL: UInt32
        /// A live challenge does not hide the wildcard above its name.
        public var keepWildcards: Bool
    }

    public struct Log: Sendable {
        public var level: String
        public var format: String
    }

    public var dns: DNS
    public var zones: [ZoneConfiguration]
    public var api: API
    public var acme: ACME
    public var storage: Storage
    public var challenge: Challenge
    public var log: Log

    /// Where the configuration came from, for messages.
    public var source: String

    static let sections: [String: Set<String>] = [
        "dns": ["listen", "protocol", "tcp_idle_timeout", "tcp_connections"],
        "api": ["listen", "tls", "cert_file", "key_file", "domain", "registration", "trusted_proxies", "cors_origins", "account_domain", "max_body_size"],
        "acme": ["directory", "email", "ca_roots", "eab_kid", "eab_hmac_key"],
        "storage": ["engine", "path", "url"],
        "challenge": ["ttl", "expire_after", "negative_ttl", "keep_wildcards"],
        "log": ["level", "format"],
    ]
    static let zoneKeys: Set<String> = ["name", "nameservers", "admin", "ttl", "negative_ttl", "refresh", "retry", "expire", "records"]

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
    /// applies `CDNS_*` variables from `environment`.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment, serial: UInt32 = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))) throws(ConfigurationError) -> CDNSConfiguration {
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
        return try CDNSConfiguration(root: root, source: source, environment: environment, serial: serial)
    }

    init(root: [String: ConfigValue], source: String, environment: [String: String], serial: UInt32) throws(ConfigurationError) {
        self.source = source
        for key in root.keys.sorted() where key != "zone" && Self.sections[key] == nil {
            throw ConfigurationError(source: source, key: key, reason: "unknown section; expected one of \((Self.sections.keys.sorted() + ["zone"]).joined(separator: ", "))")
        }
        func section(_ name: String) throws(ConfigurationError) -> ConfigReader {
            var entries: [String: ConfigValue] = [:]
            var sectionSource = source
            switch root[name] {
            case nil: break
            case .table(let table)?: entries = table
            case let other?: throw ConfigurationError(source: source, key: name, value: other.description, reason: "expected a [\(name)] table")
            }
            let known = Self.sections[name] ?? []
            for key in known {
                let variable = "CDNS_\(name.uppercased())_\(key.uppercased())"
                if let value = environment[variable] {
                    entries[key] = .environment(value)
                    sectionSource = "environment (\(variable))"
                }
            }
            return try ConfigReader(source: sectionSource, path: name, entries: entries, known: known)
        }

        let dnsSection = try section("dns")
        var listen: [SocketAddress] = []
        for (index, text) in try dnsSection.strings("listen", default: ["127.0.0.1:5353", "[::1]:5353"]).enumerated() {
            guard let address = Self.socketAddress(text) else {
                throw dnsSection.error("listen[\(index)]", .string(text), "expected HOST:PORT with an IP address, e.g. 127.0.0.1:5353 or [::1]:5353")
            }
            listen.append(address)
        }
        let proto = try dnsSection.choice("protocol", default: "both", among: ["both", "udp", "tcp"])
        let idleText = try dnsSection.string("tcp_idle_timeout", default: "10s")
        guard let idle = Self.duration(idleText), idle > 0 else {
            throw dnsSection.error("tcp_idle_timeout", .string(idleText), "expected a duration such as 10s or 2m")
        }
        dns = DNS(listen: listen, udp: proto != "tcp", tcp: proto != "udp", tcpIdleTimeout: idle,
                  tcpConnections: try dnsSection.int("tcp_connections", default: 1000, range: 1...1_000_000))

        var zones: [ZoneConfiguration] = []
        switch root["zone"] {
        case nil: break
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                guard case .table(let table) = item else {
                    throw ConfigurationError(source: source, key: "zone[\(index)]", value: item.description, reason: "expected a [[zone]] table")
                }
                zones.append(try Self.zone(table, index: index, source: source, serial: serial))
            }
        case let other?:
            throw ConfigurationError(source: source, key: "zone", value: other.description, reason: "expected [[zone]] tables")
        }
        var seen: Set<DNSName> = []
        for (index, zone) in zones.enumerated() where !seen.insert(zone.origin).inserted {
            throw ConfigurationError(source: source, key: "zone[\(index)].name", value: "\"\(zone.origin)\"", reason: "zone defined twice")
        }
        self.zones = zones

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
                throw apiSection.error("trusted_proxies[\(index)]", .string(text), "expected a CIDR such as 10.0.0.0/8 or an address")
            }
            trustedProxies.append(network)
        }
        let tls = try apiSection.choice("tls", default: "none", among: ["none", "file", "acme"])
        let certFile = try apiSection.string("cert_file", default: "")
        let keyFile = try apiSection.string("key_file", default: "")
        if tls == "file" {
            for (key, value) in [("cert_file", certFile), ("key_file", keyFile)] where value.isEmpty {
                throw apiSection.error(key, .string(value), "tls = \"file\" needs cert_file and key_file (PEM)")
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
            maxBodySize: try apiSection.int("max_body_size", default: 16384, range: 256...(1 << 20)))
        let acmeSection = try section("acme")
        acme = ACME(
            directory: try acmeSection.string("directory", default: ""),
            email: try acmeSection.string("email", default: ""),
            caRoots: try acmeSection.string("ca_roots", default: ""),
            eabKID: try acmeSection.string("eab_kid", default: ""),
            eabHMACKey: try acmeSection.string("eab_hmac_key", default: ""))
        let storageSection = try section("storage")
        storage = Storage(
            engine: try storageSection.choice("engine", default: "sqlite", among: ["sqlite", "postgres", "memory"]),
            path: try storageSection.string("path", default: "cdnsd-data/cdnsd.sqlite"),
            url: try storageSection.string("url", default: ""))
        let challengeSection = try section("challenge")
        let expiry = try challengeSection.string("expire_after", default: "1h")
        guard let expireAfter = Self.duration(expiry) else {
            throw challengeSection.error("expire_after", .string(expiry), "expected a duration such as 90s, 30m, 1h or 1d")
        }
        challenge = Challenge(
            ttl: UInt32(try challengeSection.int("ttl", default: 60, range: 0...86400)), expireAfter: expireAfter,
            negativeTTL: UInt32(try challengeSection.int("negative_ttl", default: 5, range: 0...86400)),
            keepWildcards: try challengeSection.bool("keep_wildcards", default: true))
        let logSection = try section("log")
        log = Log(
            level: try logSection.choice("level", default: "info", among: ["trace", "debug", "info", "notice", "warning", "error", "critical"]),
            format: try logSection.choice("format", default: "text", among: ["text", "json"]))
    }

    static func zone(_ table: [String: ConfigValue], index: Int, source: String, serial: UInt32) throws(ConfigurationError) -> ZoneConfiguration {
        let reader = try ConfigReader(source: source, path: "zone[\(index)]", entries: table, known: zoneKeys)
        // Names in the configuration are absolute with or without the final
        // dot, as in acme-dns (`nameservers = ["dns.svc.dev"]`).
        func name(_ key: String, _ text: String) throws(ConfigurationError) -> DNSName {
            do {
                return try DNSName(text)
            } catch {
                throw reader.error(key, .string(text), "not a domain name: \(error.detail)")
            }
        }
        guard case .string(let originText)? = table["name"] else {
            throw reader.error("name", table["name"], "every [[zone]] needs a name, e.g. name = \"svc.dev\"")
        }
        let origin = try name("name", originText)
        var nameservers: [DNSName] = []
        for (position, text) in try reader.strings("nameservers", default: ["ns.\(origin)"]).enumerated() {
            nameservers.append(try name("nameservers[\(position)]", text))
        }
        guard !nameservers.isEmpty else { throw reader.error("nameservers", table["nameservers"], "a zone needs at least one name server") }
        let admin = try name("admin", try reader.string("admin", default: "hostmaster.\(origin)"))
        let ttl = UInt32(try reader.int("ttl", default: 3600, range: 0...Int(Int32.max)))
        let negativeTTL = UInt32(try reader.int("negative_ttl", default: 300, range: 0...86400))
        var records: [ResourceRecord] = []
        for (position, line) in try reader.strings("records", default: []).enumerated() {
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
                throw reader.error("records[\(position)]", .string(line), "not a record: \(error.detail)")
            }
            guard record.name.isSubdomain(of: origin) else {
                throw reader.error("records[\(position)]", .string(line), "\(record.name) is outside zone \(origin)")
            }
            records.append(record)
        }
        let zone = ZoneConfiguration(
            origin: origin, nameservers: nameservers, admin: admin, ttl: ttl, negativeTTL: negativeTTL,
            refresh: UInt32(try reader.int("refresh", default: 7200, range: 1...Int(Int32.max))),
            retry: UInt32(try reader.int("retry", default: 3600, range: 1...Int(Int32.max))),
            expire: UInt32(try reader.int("expire", default: 1_209_600, range: 1...Int(Int32.max))),
            serial: serial, records: records)
        do {
            _ = try ZoneIndex(origin: origin, records: try zone.validatedRecords())
        } catch {
            throw reader.error("records", nil, error.description)
        }
        return zone
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

    /// `90s`, `30m`, `1h`, `2d` or plain seconds.
    static func duration(_ text: String) -> Int? {
        ResourceRecord.parseTTL(text).map(Int.init)
    }
}
