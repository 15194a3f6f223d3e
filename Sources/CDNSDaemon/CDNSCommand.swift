import ArgumentParser
import DNSServer
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
            e.g. CDNS_DNS_LISTEN=127.0.0.1:5300 or CDNS_LOG_LEVEL=debug, and a
            zone's as CDNS_ZONE_<N>_<KEY> (N from 0); any other CDNS_* variable
            is an error. SIGHUP reloads the configuration file (zones, records,
            [[tsig]] keys, log level; an invalid file is logged and ignored),
            renews the API certificate (tls = "acme") and retries failed
            renewals of `cert issue` certificates at once.
            """,
        subcommands: [Serve.self, CheckConfig.self, RecordCommand.self, ZoneCommand.self, AccountCommand.self, ImportCommand.self,
                      CredentialCommand.self, AdminTokenCommand.self, TSIGCommand.self, CertCommand.self],
        defaultSubcommand: Serve.self)

    public init() {}
}

/// Options shared by the commands that read a configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "TOML configuration file. Without it, the built-in demo zone is served.")
    var config: String?

    func load() throws -> CDNSConfiguration {
        try check { () throws(ConfigurationError) in try CDNSConfiguration.load(file: config) }
    }

    /// The configuration without the zones' records: for commands that
    /// touch no zone (see `CDNSConfiguration.load(file:records:)`).
    func loadWithoutRecords() throws -> CDNSConfiguration {
        try check { () throws(ConfigurationError) in try CDNSConfiguration.load(file: config, records: false) }
    }

    /// Runs a configuration check; a `ConfigurationError` is printed the
    /// one way every command prints it, and exits with 78 (EX_CONFIG).
    func check<T>(_ body: () throws(ConfigurationError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw Self.fail(error)
        }
    }

    static func fail(_ error: ConfigurationError) -> ExitCode {
        FileHandle.standardError.write(Data("cdnsd: configuration error: \(error)\n".utf8))
        return ExitCode(78)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve DNS (and, as configured, the challenge API) until SIGINT or SIGTERM.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration = try options.load()
        try options.check { () throws(ConfigurationError) in try configuration.checkForServe() }
        LogSetup.bootstrap(configuration.log)
        let registry = PrometheusCollectorRegistry()
        var metrics = PrometheusMetricsFactory(registry: registry)
        // An UPDATE commits in a few milliseconds: the default buckets start at 5 ms.
        metrics.durationHistogramBuckets[UpdateHandler.durationMetric] =
            [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000].map { Duration.microseconds(Int64($0 * 1000)) }
        MetricsSystem.bootstrap(metrics)
        do {
            try await Daemon(configuration: configuration, registry: registry, configurationFile: options.config).run()
        } catch let error as ConfigurationError {
            throw ConfigOptions.fail(error)
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration as serve would (exit 78 with serve's message if it would refuse it) and print its zones.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration = try options.load()
        try options.check { () throws(ConfigurationError) in try configuration.checkForServe() }
        for zone in configuration.zones {
            print("zone \(zone.origin): \(zone.records.count) records, name servers \(zone.nameservers.map(\.description).joined(separator: " "))")
            print("  records are a seed: the file wins for each name and type it lists; runtime records (cdnsd record, admin API) of other names and types are kept")
        }
        for key in configuration.tsigKeys {
            print("tsig \(TSIGCommand.List.line(key))")
        }
        print("\(configuration.source): ok")
    }
}
