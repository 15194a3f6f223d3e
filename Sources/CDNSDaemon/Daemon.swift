import ChallengeAPI
import DNSServer
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import ZoneStore

/// Composes cdnsd's long-running parts into one `ServiceGroup` that stops
/// gracefully on SIGINT and SIGTERM.
public struct Daemon: Sendable {
    public let configuration: CDNSConfiguration
    /// Served at the API's `/metrics`; the process's metrics factory
    /// should write into it.
    public let registry: PrometheusCollectorRegistry

    public init(configuration: CDNSConfiguration, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.configuration = configuration
        self.registry = registry
    }

    public func run() async throws {
        let logger = Logger(label: "cdnsd")
        let storage = try await StoreSetup.open(configuration, logger: logger)
        let store = storage.store
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: CPUAffinity.usableCPUs)
        let dns = DNSListener(
            configuration: DNSListenerConfiguration(
                addresses: configuration.dns.listen, udp: configuration.dns.udp, tcp: configuration.dns.tcp,
                tcpIdleTimeout: .seconds(Int64(configuration.dns.tcpIdleTimeout)), maxTCPConnections: configuration.dns.tcpConnections),
            store: store,
            group: eventLoops,
            requestHandler: UpdateHandler(
                store: store, keys: { name in store.tsigKey(name: name) }, zones: configuration.zones,
                challengeLifetime: Int64(configuration.challenge.expireAfter), logger: Logger(label: "cdnsd.update")),
            logger: Logger(label: "cdnsd.dns"))
        var services: [any Service] = [
            dns,
            ChallengeExpiryService(
                store: store, interval: .seconds(max(1, min(60, configuration.challenge.expireAfter / 4))),
                logger: Logger(label: "cdnsd.expiry")),
        ]
        services += storage.services
        do {
            services += try apiServices(store: store)
        } catch {
            await storage.shutdown()
            try? await eventLoops.shutdownGracefully()
            throw error
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.info("cdnsd starting", metadata: [
            "config": "\(configuration.source)", "event_loops": "\(CPUAffinity.usableCPUs)",
            "zones": "\(configuration.zones.map(\.origin.description).joined(separator: ", "))",
        ])
        do {
            try await group.run()
        } catch {
            await storage.shutdown()
            try? await eventLoops.shutdownGracefully()
            throw error
        }
        await storage.shutdown()
        try? await eventLoops.shutdownGracefully()
        logger.info("cdnsd stopped")
    }

    /// The challenge API and, for `tls = "file"`, its certificate reloader.
    func apiServices(store: ZoneRecordStore) throws -> [any Service] {
        let settings = configuration.api
        guard let listen = settings.listen else { return [] }
        let logger = Logger(label: "cdnsd.api")
        var services: [any Service] = []
        var certificate: ServerCertificate? = nil
        switch settings.tls {
        case "file":
            do {
                certificate = ServerCertificate(try ServerCertificate.Pair(certificateFile: settings.certFile, keyFile: settings.keyFile))
            } catch {
                throw ConfigurationError(source: configuration.source, key: "api.cert_file", value: "\"\(settings.certFile)\"", reason: error.description)
            }
            if let certificate {
                services.append(CertificateFileReloader(certificate: certificate, certificateFile: settings.certFile, keyFile: settings.keyFile, logger: logger))
            }
        case "acme":
            return try acmeAPIServices(store: store, settings: settings, listen: listen, logger: logger)
        default:
            break
        }
        services.append(try APIServer.application(
            api: challengeAPI(store: store), host: listen.host, port: listen.port, certificate: certificate,
            onServerRunning: Self.announce(https: certificate != nil, logger: logger), logger: logger))
        return services
    }

    /// The API with its certificate from ACME: issued (or loaded) first,
    /// then served and kept renewed; challenges go through `store`.
    func acmeAPIServices(store: ZoneRecordStore, settings: CDNSConfiguration.API, listen: (host: String, port: Int), logger: Logger) throws -> [any Service] {
        guard !settings.domain.isEmpty else {
            throw ConfigurationError(source: configuration.source, key: "api.domain", value: "\"\"", reason: "tls = \"acme\" needs the API's name, e.g. domain = \"dns.svc.dev\"")
        }
        let solver = StoreDNS01Solver(store: store, lifetime: Int64(configuration.challenge.expireAfter))
        let issuer = try CertificateIssuer(configuration: configuration, solver: solver, logger: Logger(label: "cdnsd.acme"))
        let (certificates, ready) = AsyncStream.makeStream(of: ServerCertificate.self, bufferingPolicy: .bufferingNewest(1))
        let api = challengeAPI(store: store)
        let announce = Self.announce(https: true, logger: logger)
        return [
            APICertificateService(issuer: issuer, names: [settings.domain], ready: ready, logger: Logger(label: "cdnsd.acme")),
            DeferredService {
                var iterator = certificates.makeAsyncIterator()
                guard let certificate = await iterator.next() else { return nil }
                return try APIServer.application(api: api, host: listen.host, port: listen.port, certificate: certificate, onServerRunning: announce, logger: logger)
            },
        ]
    }

    static func announce(https: Bool, logger: Logger) -> @Sendable (any Channel) async -> Void {
        { channel in
            logger.info("challenge API listening", metadata: ["url": "\(https ? "https" : "http")://\(channel.localAddress?.description ?? "?")"])
        }
    }

    func challengeAPI(store: ZoneRecordStore) -> ChallengeAPI {
        let settings = configuration.api
        return ChallengeAPI(
            store: store,
            configuration: ChallengeAPIConfiguration(
                accountDomain: settings.accountDomain, registration: settings.registration, trustedProxies: settings.trustedProxies,
                corsOrigins: settings.corsOrigins, maxBodySize: settings.maxBodySize, challengeLifetime: Int64(configuration.challenge.expireAfter)),
            registry: registry, logger: Logger(label: "cdnsd.api"))
    }
}
