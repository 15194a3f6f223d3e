import ArgumentParser
import Foundation
import Metrics
import Prometheus

/// The `cdnsd` command line.
public struct CDNSCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cdnsd",
        abstract: "Authoritative DNS for internal zones, built for ACME dns-01 challenges.",
        discussion: """
            With no arguments cdnsd serves a demo zone (demo.test) on 127.0.0.1:5353
            and [::1]:5353: try `dig @127.0.0.1 -p 5353 www.demo.test`.
            Every configuration key can also be set as CDNS_<SECTION>_<KEY>,
            e.g. CDNS_DNS_LISTEN=127.0.0.1:5300 or CDNS_LOG_LEVEL=debug.
            """,
        subcommands: [Serve.self, CheckConfig.self, CredentialCommand.self, TSIGCommand.self, CertCommand.self],
        defaultSubcommand: Serve.self)

    public init() {}
}

/// Options shared by the commands that read a configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "TOML configuration file. Without it, the built-in demo zone is served.")
    var config: String?

    func load() throws -> CDNSConfiguration {
        do {
            return try CDNSConfiguration.load(file: config)
        } catch {
            FileHandle.standardError.write(Data("cdnsd: configuration error: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve DNS (and, as configured, the challenge API) until SIGINT or SIGTERM.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration = try options.load()
        LogSetup.bootstrap(configuration.log)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        do {
            try await Daemon(configuration: configuration, registry: registry).run()
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("cdnsd: configuration error: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and print the zones it defines.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration = try options.load()
        for zone in configuration.zones {
            print("zone \(zone.origin): \(zone.records.count) records, name servers \(zone.nameservers.map(\.description).joined(separator: " "))")
        }
        print("\(configuration.source): ok")
    }
}
