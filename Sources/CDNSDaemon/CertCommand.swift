import ACMEClient
import ArgumentParser
import DNSServer
import DNSWire
import Foundation
import Logging
import NIOPosix
import ZoneStore

/// `cdnsd cert issue|status`: certificates for other services from the
/// configured ACME directory, solved through cdnsd's own DNS.
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Issue certificates for other services and list the ones cdnsd manages.",
        subcommands: [Issue.self, Status.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Order a certificate from [acme] directory, solving dns-01 through cdnsd.",
            discussion: """
                Example: cdnsd cert issue -d '*.svc.dev' -d svc.dev --out /etc/traefik/certs --config my.toml
                Writes fullchain.pem and privkey.pem (mode 0600) to --out, and keeps a copy under the
                data directory for `cert status`. Works while the daemon runs (it serves the challenge
                records) and without it (this command then serves DNS itself while it orders).
                """)

        @OptionGroup var options: ConfigOptions
        @Option(name: [.customShort("d"), .customLong("domain")], help: "A name on the certificate (repeatable; wildcards allowed).")
        var names: [String] = []
        @Option(help: "Directory for fullchain.pem and privkey.pem.") var out: String
        @Option(help: "Certificate key: ec-p256, rsa-2048 or rsa-3072.") var keyType: String = "ec-p256"

        func validate() throws {
            guard !names.isEmpty else { throw ValidationError("give at least one -d NAME") }
            guard PrivateKey.Algorithm(rawValue: keyType) != nil else { throw ValidationError("--key-type: ec-p256, rsa-2048 or rsa-3072") }
        }

        func run() async throws {
            let configuration = try options.load()
            var logger = Logger(label: "cdnsd")
            logger.logLevel = .warning
            let storage = try await StoreSetup.open(configuration, logger: logger, watchExternalWrites: false)
            var dns: (task: Task<Void, any Error>, group: MultiThreadedEventLoopGroup)? = nil
            do {
                guard let server = configuration.dns.listen.first, let zone = configuration.zones.first else {
                    throw ValidationError("the configuration needs [dns] listen and a [[zone]]")
                }
                var served: (@Sendable (DNSName, String) async throws -> Void)? = nil
                if DNSProbe.query(zone.origin, type: .soa, server: server) != nil {
                    print("using the cdnsd serving \(server)")
                    served = { name, value in try await DNSProbe.waitForTXT(name, value: value, server: server) }
                } else {
                    print("no cdnsd answers on \(server): serving DNS from this command while it orders")
                    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
                    let listener = DNSListener(
                        configuration: DNSListenerConfiguration(addresses: configuration.dns.listen, udp: configuration.dns.udp, tcp: configuration.dns.tcp),
                        store: storage.store, group: group, logger: logger)
                    dns = (Task { try await listener.run() }, group)
                    for _ in 0..<50 where DNSProbe.query(zone.origin, type: .soa, server: server) == nil {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                let solver = StoreDNS01Solver(store: storage.store, lifetime: Int64(configuration.challenge.expireAfter), served: served)
                let issuer = try CertificateIssuer(configuration: configuration, solver: solver, logger: logger)
                let issued = try await issuer.issue(names, keyType: PrivateKey.Algorithm(rawValue: keyType) ?? .p256) { print($0) }
                let files = CertificateFiles(configuration: configuration)
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try files.write(issued.chain, to: "\(out)/fullchain.pem", mode: 0o644)
                try files.write(issued.key, to: "\(out)/privkey.pem", mode: 0o600)
                let info = try CertificateInfo(pem: issued.chain)
                print("wrote \(out)/fullchain.pem and \(out)/privkey.pem (serial \(info.serialHex), valid until \(info.notAfter))")
            } catch {
                dns?.task.cancel()
                try? await dns?.group.shutdownGracefully()
                await storage.shutdown()
                throw error
            }
            dns?.task.cancel()
            try? await dns?.group.shutdownGracefully()
            await storage.shutdown()
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the certificates cdnsd keeps and when each renews.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let configuration = try options.load()
            let files = CertificateFiles(configuration: configuration)
            let chains = files.chains()
            if chains.isEmpty { print("no certificates under \(files.directory)") }
            for path in chains {
                guard let pem = try? String(contentsOfFile: path, encoding: .utf8), let info = try? CertificateInfo(pem: pem) else {
                    print("\(path): unreadable")
                    continue
                }
                let state = info.notAfter < Date() ? "EXPIRED" : "valid"
                print("\(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)\t\(state)\tserial \(info.serialHex)\tnot after \(info.notAfter)\trenews from \(info.defaultRenewalTime) (or the CA's ARI window)")
            }
        }
    }
}
