import ArgumentParser
import DNSServer
import DNSWire
import Foundation
import ZoneStore

/// `cdnsd tsig add|list|remove`: TSIG keys for RFC 2136 UPDATE (certbot's
/// dns-rfc2136, lego's rfc2136, nsupdate). Works on the configured store,
/// also while the daemon runs (it picks up the change within a second).
struct TSIGCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tsig",
        abstract: "Manage the TSIG keys that may publish challenges through DNS UPDATE (RFC 2136).",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key (or replace its secret) and print the generated secret once, with client configurations.",
            discussion: """
                Example: cdnsd tsig add certbot --allow '*.svc.dev' --from 10.0.0.0/8
                By default the key may add and delete TXT records at _acme-challenge names of the
                allowed names only. `*.NAME` allows every name below NAME and the wildcard *.NAME
                itself; `NAME` allows that name only; `*` allows every name in the served zones.
                --names with --types widens it to the allowed names themselves, e.g.
                --names --types A,AAAA,CNAME for service registration (never SOA or the apex NS).
                --transfer makes a key for secondaries instead (no --allow): it may sign zone
                transfers and NOTIFY for the zones whose transfer.keys list it, never an UPDATE.
                """)

        @OptionGroup var options: ConfigOptions
        @Argument(help: "Key name, as clients send it (e.g. certbot or certbot.svc.dev).") var name: String
        @Option(help: "hmac-sha256 (default), hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1, or hmac-md5 with --allow-md5.")
        var algorithm: String = "hmac-sha256"
        @Option(name: .customLong("allow"), help: "Name pattern it may publish challenges for (repeatable).") var patterns: [String] = []
        @Option(name: .customLong("from"), help: "CIDR updates may come from (repeatable; none allows every source).") var sources: [String] = []
        @Option(help: "Record types it may change, comma-separated (default TXT).") var types: String = "TXT"
        @Flag(help: "Let the key change the allowed names themselves, not only their _acme-challenge TXT.") var names = false
        @Flag(name: .customLong("allow-md5"), help: "Accept hmac-md5 for this key (broken; for old clients only).") var allowMD5 = false
        @Option(help: "The server address to print in the client configurations.") var server: String?
        @Flag(help: "A key for zone transfers (AXFR/IXFR) and NOTIFY only, with no UPDATE rights.") var transfer = false

        func validate() throws {
            guard (try? DNSName(name)) != nil, !name.isEmpty, name != "." else { throw ValidationError("a key name is a domain name, e.g. certbot or certbot.svc.dev") }
            guard let algorithm = TSIGAlgorithm(text: algorithm) else {
                throw ValidationError("--algorithm \(self.algorithm): expected hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1 or hmac-md5")
            }
            if algorithm == .hmacMD5 && !allowMD5 { throw ValidationError("hmac-md5 is broken; add --allow-md5 if an old client needs it") }
            if transfer {
                guard patterns.isEmpty, !names, types == "TXT" else { throw ValidationError("--transfer keys take no --allow, --names or --types: they never update") }
            } else {
                guard !patterns.isEmpty else { throw ValidationError("give at least one --allow pattern, e.g. --allow '*.svc.dev'") }
            }
            for pattern in patterns where NamePattern(pattern) == nil {
                throw ValidationError("--allow \(pattern): expected NAME, *.NAME or *")
            }
            for source in sources where IPNetwork(source) == nil {
                throw ValidationError("--from \(source): expected a CIDR such as 10.0.0.0/8")
            }
            for type in parsedTypes() {
                guard let type else { throw ValidationError("--types \(types): expected record types such as TXT,A,AAAA,CNAME") }
                if type == .soa || type.isMetaType { throw ValidationError("--types: no key may change \(type)") }
            }
            if !names && parsedTypes().contains(where: { $0 != .txt }) {
                throw ValidationError("types other than TXT need --names (challenge names hold TXT only)")
            }
        }

        func parsedTypes() -> [RRType?] {
            types.split(separator: ",").map { RRType(mnemonic: $0.trimmingCharacters(in: .whitespaces)) }
        }

        func run() async throws {
            guard let algorithm = TSIGAlgorithm(text: algorithm) else { throw ExitCode(64) }
            let keyName = try DNSName(name)
            var generator = SystemRandomNumberGenerator()
            let secret = (0..<algorithm.digestLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let key = TSIGKey(name: keyName, algorithm: algorithm.name, secret: secret, allowedNames: patterns, allowedSources: sources,
                              allowedTypes: parsedTypes().compactMap { $0 }, challengeNamesOnly: !names, transferOnly: transfer, allowMD5: allowMD5)
            let configuration = try options.loadWithoutRecords()
            if configuration.tsigKeys.contains(where: { $0.name == keyName }) {
                throw ValidationError("\(keyName) is a [[tsig]] key of \(configuration.source); change it there")
            }
            try await CredentialCommand.withStore(options, directoryOnly: true) { store in try await store.putTSIGKey(key) }
            let encoded = Base64.encode(secret)
            let listen = configuration.dns.listen.first
            let host = server ?? listen?.ipAddress ?? "127.0.0.1"
            let port = listen?.port ?? 53
            let keyText = keyName.description
            if transfer {
                print(Self.secondaryConfigurations(key: keyText, algorithm: algorithm, secret: encoded, host: host, port: port))
                FileHandle.standardError.write(Data("cdnsd: the secret is shown only now; list the key in a zone's transfer.keys\n".utf8))
                return
            }
            print("""
                key: \(keyText)
                algorithm: \(algorithm)
                secret: \(encoded)

                # certbot --dns-rfc2136 --dns-rfc2136-credentials rfc2136.ini (mode 0600)
                dns_rfc2136_server = \(host)
                dns_rfc2136_port = \(port)
                dns_rfc2136_name = \(keyText)
                dns_rfc2136_secret = \(encoded)
                dns_rfc2136_algorithm = \(algorithm.description.uppercased())

                # lego --dns rfc2136 (and Traefik's rfc2136 provider)
                RFC2136_NAMESERVER=\(host.contains(":") ? "[\(host)]" : host):\(port)
                RFC2136_TSIG_KEY=\(keyText)
                RFC2136_TSIG_SECRET=\(encoded)
                RFC2136_TSIG_ALGORITHM=\(algorithm.name)

                # nsupdate -k FILE (BIND key clause), or: nsupdate -y \(algorithm):\(keyText):\(encoded)
                key "\(keyText)" {
                    algorithm \(algorithm);
                    secret "\(encoded)";
                };
                """)
            FileHandle.standardError.write(Data("cdnsd: the secret is shown only now\n".utf8))
        }

        /// The key as knotd, nsd and BIND secondaries of this server take it.
        static func secondaryConfigurations(key: String, algorithm: TSIGAlgorithm, secret: String, host: String, port: Int) -> String {
            let address = host.contains(":") ? "[\(host)]" : host
            return """
                key: \(key)
                algorithm: \(algorithm)
                secret: \(secret)

                # knotd (knot.conf): the key, and use it for the primary
                key:
                  - id: \(key)
                    algorithm: \(algorithm)
                    secret: \(secret)
                remote:
                  - id: cdnsd
                    address: \(host)@\(port)
                    key: \(key)

                # nsd (nsd.conf)
                key:
                    name: "\(key)"
                    algorithm: \(algorithm)
                    secret: "\(secret)"
                # in the zone: request-xfr: \(host)@\(port) \(key)   allow-notify: \(host) \(key)

                # BIND (named.conf)
                key "\(key)" { algorithm \(algorithm); secret "\(secret)"; };
                # in the zone: primaries { \(address) port \(port) key "\(key)"; };

                # dig -y \(algorithm):\(key):\(secret) @\(host) -p \(port) ZONE AXFR
                """
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List TSIG keys with their algorithm and scope (never the secret).")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let configured = try options.loadWithoutRecords().tsigKeys
            let keys = try await CredentialCommand.withStore(options, directoryOnly: true) { store in store.tsigKeys() }
            if keys.isEmpty && configured.isEmpty { print("no TSIG keys") }
            for key in keys.sorted(by: { $0.name < $1.name }) where !configured.contains(where: { $0.name == key.name }) {
                print(Self.line(key))
            }
            for key in configured { print(Self.line(key) + "\tsource=config") }
        }

        /// One key's name, algorithm and scope, tab-separated (never the secret).
        static func line(_ key: TSIGKey) -> String {
            let algorithm = TSIGAlgorithm(name: key.algorithm)?.description ?? key.algorithm.description
            let sources = key.allowedSources.isEmpty ? "any" : key.allowedSources.joined(separator: ",")
            let scope = key.transferOnly ? "transfer" : key.challengeNamesOnly ? "challenges" : "names"
            return "\(key.name)\t\(algorithm)\tallow=\(key.allowedNames.joined(separator: ","))\tfrom=\(sources)\ttypes=\(key.allowedTypes.map(\.description).joined(separator: ","))\tscope=\(scope)\(key.allowMD5 ? "\tmd5=allowed" : "")"
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a TSIG key; messages signed with it are refused from then on.")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "Key name.") var name: String

        func run() async throws {
            guard let keyName = try? DNSName(name) else { throw ValidationError("\(name) is not a key name") }
            let configuration = try options.loadWithoutRecords()
            if configuration.tsigKeys.contains(where: { $0.name == keyName }) {
                throw ValidationError("\(keyName) is a [[tsig]] key of \(configuration.source); remove it there")
            }
            let removed = try await CredentialCommand.withStore(options, directoryOnly: true) { store in try await store.removeTSIGKey(name: keyName) }
            guard removed else {
                FileHandle.standardError.write(Data("cdnsd: no TSIG key named \(name)\n".utf8))
                throw ExitCode(1)
            }
            print("removed TSIG key \(keyName)")
        }
    }
}
