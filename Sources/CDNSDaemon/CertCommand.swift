import ACMEClient
import ArgumentParser
import DNSServer
import DNSWire
import Foundation
import Logging
import NIOPosix
import ZoneStore

/// `cdnsd cert issue|status|remove`: certificates for other services from
/// the configured ACME directory, solved through cdnsd's own DNS, and
/// renewed by the running daemon.
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Issue certificates for other services, list them, stop renewing them.",
        subcommands: [Issue.self, Status.self, Remove.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Order a certificate from [acme] directory, solving dns-01 through cdnsd; the daemon renews it.",
            discussion: """
                Example: cdnsd cert issue -d '*.svc.dev' -d svc.dev --out /etc/traefik/certs \\
                           --deploy-hook 'systemctl reload traefik' --config my.toml
                Writes fullchain.pem and privkey.pem to --out (each replaced atomically, with
                --cert-mode and --key-mode), runs --deploy-hook, and records the certificate under
                the data directory: a running `cdnsd serve` on the same data renews it (inside the
                CA's ARI window, else at 2/3 of its lifetime, and at the latest --renew-before ahead
                of expiry), rewrites the files and runs the hook again after every renewal.
                Works while the daemon runs (it serves the challenge records) and without it (this
                command then serves DNS itself while it orders). `cert status` shows each one's state.
                """)

        @OptionGroup var options: ConfigOptions
        @Option(name: [.customShort("d"), .customLong("domain")], help: "A name on the certificate (repeatable; wildcards allowed).")
        var names: [String] = []
        @Option(help: "Directory for fullchain.pem and privkey.pem.") var out: String
        @Option(help: "Certificate key: ec-p256, rsa-2048 or rsa-3072.") var keyType: String = "ec-p256"
        @Option(help: "Mode of privkey.pem (octal).") var keyMode: String = "0600"
        @Option(help: "Mode of fullchain.pem (octal).") var certMode: String = "0644"
        @Option(help: "Shell command run after every issuance and renewal, e.g. 'systemctl reload nginx'.") var deployHook: String?
        @Option(help: "Seconds (or 30s, 5m) the deploy hook may run before it is killed.") var hookTimeout: String = "60"
        @Option(help: "Renew at the latest when this much validity is left (e.g. 30d, 12h), even before the CA's window.")
        var renewBefore: String?

        static func mode(_ text: String, _ option: String) throws -> Int {
            guard let mode = Int(text.hasPrefix("0o") ? String(text.dropFirst(2)) : text, radix: 8), (0...0o777).contains(mode) else {
                throw ValidationError("\(option): an octal file mode such as 0600")
            }
            return mode
        }

        static func seconds(_ text: String, _ option: String) throws -> Int {
            guard let seconds = ResourceRecord.parseTTL(text), seconds > 0 else { throw ValidationError("\(option): seconds or a duration such as 90s, 12h or 30d") }
            return Int(seconds)
        }

        func validate() throws {
            guard !names.isEmpty else { throw ValidationError("give at least one -d NAME") }
            guard PrivateKey.Algorithm(rawValue: keyType) != nil else { throw ValidationError("--key-type: ec-p256, rsa-2048 or rsa-3072") }
            _ = try Self.mode(keyMode, "--key-mode")
            _ = try Self.mode(certMode, "--cert-mode")
            _ = try Self.seconds(hookTimeout, "--hook-timeout")
            if let renewBefore { _ = try Self.seconds(renewBefore, "--renew-before") }
        }

        func run() async throws {
            let configuration = try options.load()
            try options.check { () throws(ConfigurationError) in try configuration.checkACME() }
            var logger = Logger(label: "cdnsd")
            logger.logLevel = .warning
            let storage = try await StoreSetup.open(configuration, logger: logger, watchExternalWrites: false)
            var dns: (task: Task<Void, any Error>, group: MultiThreadedEventLoopGroup)? = nil
            let release = {
                dns?.task.cancel()
                try? await dns?.group.shutdownGracefully()
                await storage.shutdown()
            }
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
                    let listener = DNSListener(configuration: DNSListenerConfiguration(configuration.dns), store: storage.store, group: group, logger: logger)
                    dns = (Task { try await listener.run() }, group)
                    for _ in 0..<50 where DNSProbe.query(zone.origin, type: .soa, server: server) == nil {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                let solver = StoreDNS01Solver(store: storage.store, lifetime: Int64(configuration.challenge.expireAfter), served: served)
                let issuer = try CertificateIssuer(configuration: configuration, solver: solver, logger: logger)
                let files = CertificateFiles(configuration: configuration)
                let records = ManagedCertificateStore(files: files)
                let record = ManagedCertificate(
                    name: ManagedCertificateStore.recordName(names[0]), names: names,
                    out: URL(fileURLWithPath: out).standardizedFileURL.path, keyType: keyType,
                    certMode: try Self.mode(certMode, "--cert-mode"), keyMode: try Self.mode(keyMode, "--key-mode"),
                    deployHook: deployHook, hookTimeout: try Self.seconds(hookTimeout, "--hook-timeout"),
                    renewBefore: try renewBefore.map { try Self.seconds($0, "--renew-before") })
                let deployment = CertificateDeployment(issuer: issuer, store: records, logger: logger)
                let issued = try await deployment.issue(record, create: true) { print($0) }
                print("recorded \(records.path(issued.name)): a running `cdnsd serve` renews it from \(issued.nextRenewal.map { "\($0)" } ?? "?")")
            } catch {
                await release()
                throw error
            }
            await release()
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the certificates cdnsd keeps: expiry, next renewal, last error.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let configuration = try options.load()
            let files = CertificateFiles(configuration: configuration)
            let records = ManagedCertificateStore(files: files).all()
            let chains = files.chains()
            if records.isEmpty && chains.isEmpty { print("no certificates under \(files.directory)") }
            let now = Date()
            for record in records {
                guard let chain = record.chain, let info = try? CertificateInfo(pem: chain) else {
                    print("\(record.name)\tnot issued\tnames \(record.names.joined(separator: ","))\tlast error \(record.lastError ?? "none")")
                    continue
                }
                let state = info.notAfter < now ? "EXPIRED" : "valid"
                var fields = [record.name, state, "serial \(info.serialHex)", "not after \(info.notAfter)"]
                fields.append("next renewal \(record.nextRenewal.map { "\($0)" } ?? "unscheduled")\(record.failures > 0 ? " (retry \(record.failures))" : "")")
                fields.append("renewals \(record.renewals)")
                fields.append("last issued \(record.lastIssued.map { "\($0)" } ?? "never")")
                fields.append("last error \(record.lastError ?? "none")")
                if record.deployHook != nil { fields.append("last hook \(record.lastHook ?? "not run")") }
                fields.append("files \(record.out)")
                print(fields.joined(separator: "\t"))
            }
            for path in chains {
                let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                guard let pem = try? String(contentsOfFile: path, encoding: .utf8), let info = try? CertificateInfo(pem: pem) else {
                    print("\(name)\tunreadable\t\(path)")
                    continue
                }
                let state = info.notAfter < now ? "EXPIRED" : "valid"
                let isAPI = configuration.api.tls == .acme && CertificateFiles.stem(configuration.api.domain) == name
                let renewal = isAPI
                    ? "API certificate ([api] tls = \"acme\"): the running daemon renews it from \(info.defaultRenewalTime) or inside the CA's ARI window"
                    : "not renewed: no longer the API's certificate ([api] tls = \"\(configuration.api.tls.rawValue)\", domain \"\(configuration.api.domain)\")"
                print("\(name)\t\(state)\tserial \(info.serialHex)\tnot after \(info.notAfter)\t\(renewal)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop renewing a certificate `cert issue` recorded; its files stay where they are.")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "The certificate, as `cert status` names it or by its first name (e.g. '*.svc.dev').") var name: String

        func run() async throws {
            let configuration = try options.load()
            let records = ManagedCertificateStore(files: CertificateFiles(configuration: configuration))
            let recordName = ManagedCertificateStore.recordName(name)
            let record = records.load(recordName)
            guard try records.remove(recordName) else {
                FileHandle.standardError.write(Data("cdnsd: no managed certificate \(name); `cdnsd cert status` lists them\n".utf8))
                throw ExitCode(1)
            }
            print("\(recordName) is no longer renewed\(record.map { "; \($0.fullchainPath) and \($0.privkeyPath) stay" } ?? "")")
        }
    }
}
