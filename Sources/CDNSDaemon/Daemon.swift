import ChallengeAPI
import DNSServer
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals
import ZoneStore

/// Composes cdnsd's long-running parts into one `ServiceGroup` that stops
/// gracefully on SIGINT and SIGTERM.
public struct Daemon: Sendable {
    public let configuration: CDNSConfiguration
    /// Served at the API's `/metrics`; the process's metrics factory
    /// should write into it.
    public let registry: PrometheusCollectorRegistry
    /// The file SIGHUP reloads; nil for the built-in demo configuration.
    public let configurationFile: String?

    public init(configuration: CDNSConfiguration, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), configurationFile: String? = nil) {
        self.configuration = configuration
        self.registry = registry
        self.configurationFile = configurationFile
    }

    public func run() async throws {
        // Everything serve would reject later is rejected now, as check-config does.
        try configuration.checkForServe()
        let logger = Logger(label: "cdnsd")
        // Trapped before anything starts, whatever the configuration: SIGHUP never ends cdnsd.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let storage = try await StoreSetup.open(configuration, logger: logger)
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: configuration.dns.threads)
        let release: @Sendable () async -> Void = {
            await storage.shutdown()
            try? await eventLoops.shutdownGracefully()
        }
        do {
            let store = storage.store
            // `[[tsig]]` keys of the configuration file first, then the store's.
            // Replaced on SIGHUP.
            let staticKeys = StaticTSIGKeys(configuration.tsigKeys)
            var services: [any Service] = [
                DNSListener(
                    configuration: DNSListenerConfiguration(configuration.dns), store: store, group: eventLoops,
                    requestHandler: UpdateHandler(
                        store: store, keys: { name in staticKeys.key(name) ?? store.tsigKey(name: name) },
                        challengeLifetime: Int64(configuration.challenge.expireAfter),
                        transferPolicies: configuration.transfers.compactMapValues(\.policy), logger: Logger(label: "cdnsd.update")),
                    logger: Logger(label: "cdnsd.dns")),
                ChallengeExpiryService(
                    store: store, interval: .seconds(max(1, min(60, configuration.challenge.expireAfter / 4))),
                    logger: Logger(label: "cdnsd.expiry")),
            ]
            if configuration.transfers.values.contains(where: { !$0.notify.isEmpty || $0.notifyNameservers }) {
                services.append(NotifyService(
                    store: store,
                    zones: configuration.transfers.mapValues { NotifyTargets(addresses: $0.notify, nameservers: $0.notifyNameservers, key: $0.policy?.keys.first) },
                    keys: { name in (staticKeys.key(name) ?? store.tsigKey(name: name)).flatMap(UpdateHandler.credential) },
                    group: eventLoops, logger: Logger(label: "cdnsd.notify")))
            }
            services += storage.services
            services.append(StoreHealthService(store: store, logger: Logger(label: "cdnsd.store")))
            var triggers: [RenewalTrigger] = []
            services += try apiServices(store: store, triggers: &triggers)
            services.append(managedCertificates(store: store, triggers: &triggers))
            let reloader = ConfigReloader(file: configurationFile, running: configuration, store: store, staticKeys: staticKeys, logger: Logger(label: "cdnsd.reload"))
            services.append(HangupService(signals: hangups, triggers: triggers, reload: { await reloader.reload() }, logger: logger))
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: services.map { .init(service: $0) },
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger))
            logger.info("cdnsd starting", metadata: [
                "config": "\(configuration.source)", "event_loops": "\(configuration.dns.threads)",
                "zones": "\(configuration.zones.map(\.origin.description).joined(separator: ", "))",
                "static_tsig_keys": "\(configuration.tsigKeys.map(\.name.description).joined(separator: ", "))",
            ])
            try await group.run()
        } catch {
            await release()
            throw error
        }
        await release()
        logger.info("cdnsd stopped")
    }

    /// The challenge API and, for `tls = "file"`, its certificate reloader;
    /// for `tls = "acme"`, its renewal loop (with a trigger for SIGHUP).
    func apiServices(store: ZoneRecordStore, triggers: inout [RenewalTrigger]) throws -> [any Service] {
        let settings = configuration.api
        guard let listen = settings.listen else { return [] }
        let logger = Logger(label: "cdnsd.api")
        var services: [any Service] = []
        var certificate: ServerCertificate? = nil
        switch settings.tls {
        case .file:
            let served = ServerCertificate(try configuration.apiCertificatePair())
            certificate = served
            services.append(CertificateFileReloader(certificate: served, certificateFile: settings.certFile, keyFile: settings.keyFile, logger: logger))
        case .acme:
            let trigger = RenewalTrigger()
            triggers.append(trigger)
            return try acmeAPIServices(store: store, settings: settings, listen: listen, trigger: trigger, logger: logger)
        case .none:
            break
        }
        services.append(try APIServer.application(
            api: challengeAPI(store: store), host: listen.host, port: listen.port, certificate: certificate,
            onServerRunning: Self.announce(https: certificate != nil, logger: logger), logger: logger))
        return services
    }

    /// The API with its certificate from ACME: issued (or loaded) first,
    /// then served and kept renewed; challenges go through `store`.
    func acmeAPIServices(store: ZoneRecordStore, settings: CDNSConfiguration.API, listen: (host: String, port: Int), trigger: RenewalTrigger, logger: Logger) throws -> [any Service] {
        let solver = StoreDNS01Solver(store: store, lifetime: Int64(configuration.challenge.expireAfter))
        let issuer = try CertificateIssuer(configuration: configuration, solver: solver, logger: Logger(label: "cdnsd.acme"))
        let (certificates, ready) = AsyncStream.makeStream(of: ServerCertificate.self, bufferingPolicy: .bufferingNewest(1))
        let api = challengeAPI(store: store)
        let announce = Self.announce(https: true, logger: logger)
        return [
            APICertificateService(issuer: issuer, names: [settings.domain], ready: ready, trigger: trigger, logger: Logger(label: "cdnsd.acme")),
            DeferredService {
                var iterator = certificates.makeAsyncIterator()
                guard let certificate = await iterator.next() else { return nil }
                return try APIServer.application(api: api, host: listen.host, port: listen.port, certificate: certificate, onServerRunning: announce, logger: logger)
            },
        ]
    }

    /// Renews what `cdnsd cert issue` recorded. Without a usable `[acme]`
    /// it still runs, and records why each due renewal cannot happen.
    func managedCertificates(store: ZoneRecordStore, triggers: inout [RenewalTrigger]) -> any Service {
        let logger = Logger(label: "cdnsd.certificates")
        let trigger = RenewalTrigger()
        triggers.append(trigger)
        let solver = StoreDNS01Solver(store: store, lifetime: Int64(configuration.challenge.expireAfter))
        let records = ManagedCertificateStore(files: CertificateFiles(configuration: configuration))
        do {
            let issuer = try CertificateIssuer(configuration: configuration, solver: solver, logger: Logger(label: "cdnsd.acme"))
            return ManagedCertificateService(
                store: records, deployment: CertificateDeployment(issuer: issuer, store: records, logger: logger), unavailable: nil,
                trigger: trigger, logger: logger)
        } catch {
            return ManagedCertificateService(store: records, deployment: nil, unavailable: "\(error)", trigger: trigger, logger: logger)
        }
    }

    static func announce(https: Bool, logger: Logger) -> @Sendable (any Channel) async -> Void {
        { channel in
            let address = channel.localAddress
            let host = address?.ipAddress.map { $0.contains(":") ? "[\($0)]" : $0 } ?? "?"
            logger.info("challenge API listening", metadata: ["url": "\(https ? "https" : "http")://\(host):\(address?.port ?? 0)"])
        }
    }

    func challengeAPI(store: ZoneRecordStore) -> ChallengeAPI {
        let settings = configuration.api
        return ChallengeAPI(
            store: store,
            configuration: ChallengeAPIConfiguration(
                accountDomain: settings.accountDomain, registration: settings.registration, trustedProxies: settings.trustedProxies,
                corsOrigins: settings.corsOrigins, maxBodySize: settings.maxBodySize, challengeLifetime: Int64(configuration.challenge.expireAfter),
                connections: APIConnectionSettings(
                    maxConnections: settings.maxConnections, headerTimeout: .seconds(Int64(settings.headerTimeout)),
                    bodyTimeout: .seconds(Int64(settings.bodyTimeout)), idleTimeout: .seconds(Int64(settings.idleTimeout))),
                authFailuresPerMinute: settings.authFailuresPerMinute, registrationsPerMinute: settings.registrationsPerMinute,
                maxAccounts: settings.maxAccounts, bcryptThreads: settings.bcryptThreads, bcryptQueue: settings.bcryptQueue),
            registry: registry, logger: Logger(label: "cdnsd.api"))
    }
}
