import DNSServer
import Logging
import NIOPosix
import ServiceLifecycle
import ZoneStore

/// Composes cdnsd's long-running parts into one `ServiceGroup` that stops
/// gracefully on SIGINT and SIGTERM.
public struct Daemon: Sendable {
    public let configuration: CDNSConfiguration

    public init(configuration: CDNSConfiguration) {
        self.configuration = configuration
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
            logger: Logger(label: "cdnsd.dns"))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: dns),
                    .init(service: ChallengeExpiryService(
                        store: store, interval: .seconds(max(1, min(60, configuration.challenge.expireAfter / 4))),
                        logger: Logger(label: "cdnsd.expiry"))),
                ] + storage.services.map { .init(service: $0) },
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
}
