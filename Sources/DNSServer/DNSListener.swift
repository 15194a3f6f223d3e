import CUDPBatch
import DNSWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import ZoneStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where and how the DNS server listens.
public struct DNSListenerConfiguration: Sendable {
    /// Each address gets a UDP and/or a TCP listener on the same port. Port 0
    /// picks a free port (the same one for UDP and TCP).
    public var addresses: [SocketAddress]
    public var udp: Bool
    public var tcp: Bool
    /// Connection caps, timeouts and back-pressure of DNS over TCP.
    public var tcpLimits: TCPLimits
    /// Response rate limiting of UDP answers.
    public var rateLimit: ResponseRateLimiter.Configuration
    /// EDNS UDP payload size advertised and honoured at most.
    public var maxUDPPayload: UInt16
    /// Threads answering UDP on each address, each with its own
    /// `SO_REUSEPORT` socket (Linux; elsewhere one NIO channel per event loop).
    public var udpThreads: Int
    /// Nice value for every thread of the process but the DNS query
    /// threads (the UDP workers and the event loops answering TCP), once
    /// they run (``BackgroundPriority``); 0 leaves them alone.
    public var backgroundNice: Int = 0

    /// A TCP connection with no query for this long is closed (`tcpLimits.idleTimeout`).
    public var tcpIdleTimeout: TimeAmount {
        get { tcpLimits.idleTimeout }
        set { tcpLimits.idleTimeout = newValue }
    }
    /// Open TCP connections at most, over every listen address together (`tcpLimits.maxConnections`).
    public var maxTCPConnections: Int {
        get { tcpLimits.maxConnections }
        set { tcpLimits.maxConnections = newValue }
    }

    public init(addresses: [SocketAddress], udp: Bool = true, tcp: Bool = true, tcpIdleTimeout: TimeAmount = .seconds(10), maxTCPConnections: Int = 1000, maxUDPPayload: UInt16 = 1232,
                tcpLimits: TCPLimits? = nil, rateLimit: ResponseRateLimiter.Configuration = .off, udpThreads: Int = System.coreCount) {
        self.addresses = addresses
        self.udp = udp
        self.tcp = tcp
        var limits = tcpLimits ?? TCPLimits()
        if tcpLimits == nil {
            limits.idleTimeout = tcpIdleTimeout
            limits.maxConnections = maxTCPConnections
        }
        self.tcpLimits = limits
        self.rateLimit = rateLimit
        self.maxUDPPayload = maxUDPPayload
        self.udpThreads = max(1, udpThreads)
    }
}

/// The authoritative DNS server as a ServiceLifecycle `Service`: UDP and TCP
/// listeners on every configured address, answering from the store's current
/// snapshot until graceful shutdown.
///
/// UDP on Linux: `udpThreads` threads per address, each looping over its
/// own `SO_REUSEPORT` socket with `recvmmsg`/`sendmmsg` and a cache of
/// answers (UDPFastPath.swift); elsewhere one NIO channel per event loop.
/// TCP accepts on all event loops.
public final class DNSListener: Service, Sendable {
    private let configuration: DNSListenerConfiguration
    private let store: any RecordStore
    private let group: any EventLoopGroup
    private let logger: Logger
    private let requestHandler: (any DNSRequestHandler)?

    /// - Parameter requestHandler: answers UPDATEs and TSIG-signed messages;
    ///   without one an UPDATE gets NOTIMP and signed queries unsigned answers.
    public init(configuration: DNSListenerConfiguration, store: any RecordStore, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                requestHandler: (any DNSRequestHandler)? = nil, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.group = group
        self.requestHandler = requestHandler
        self.logger = logger
    }

    public func run() async throws {
        let loops = Array(group.makeIterator())
        let snapshot = await store.snapshot()
        var caches: [SnapshotCache] = []
        for loop in loops { caches.append(SnapshotCache(eventLoop: loop, snapshot: snapshot)) }
        let udpSnapshots = UDPSnapshotSource(snapshot)
        await store.subscribe(LoopSnapshotPublisher(caches: caches, udp: udpSnapshots))

        #if os(Linux)
        var workers: [UDPWorker] = []
        func stopWorkers() { for worker in workers { worker.stop() } }
        #else
        func stopWorkers() {}
        #endif
        var channels: [any Channel] = []
        var addresses: [SocketAddress] = []
        // One table for the whole server: the caps protect the process, not a socket.
        let connections = TCPConnectionTable(limits: configuration.tcpLimits, logger: logger)
        let rateLimiter = ResponseRateLimiter(configuration.rateLimit)
        do {
            for address in configuration.addresses {
                var resolved = address
                if configuration.udp {
                    #if os(Linux)
                    let responder = QueryResponder(maxUDPPayload: configuration.maxUDPPayload)
                    for index in 0..<configuration.udpThreads {
                        let socket = try UDPSocket(binding: resolved)
                        if index == 0, let local = socket.localAddress { resolved = local }
                        let worker = UDPWorker(socket: socket, snapshots: udpSnapshots, responder: responder, requestHandler: requestHandler,
                                               rateLimiter: rateLimiter, name: "cdnsd-udp-\(workers.count)")
                        try worker.start()
                        workers.append(worker)
                    }
                    #else
                    for (index, cache) in caches.enumerated() {
                        let channel = try await bindUDP(resolved, cache: cache, rateLimiter: rateLimiter)
                        channels.append(channel)
                        if index == 0, let local = channel.localAddress { resolved = local }
                    }
                    #endif
                }
                if configuration.tcp {
                    let channel = try await bindTCP(resolved, caches: caches, connections: connections)
                    channels.append(channel)
                    if let local = channel.localAddress { resolved = local }
                }
                addresses.append(resolved)
            }
        } catch {
            stopWorkers()
            for channel in channels { try? await channel.close() }
            logger.error("DNS listener failed to bind", metadata: ["error": "\(error)"])
            throw error
        }
        let protocols = [configuration.udp ? "udp" : nil, configuration.tcp ? "tcp" : nil].compactMap { $0 }.joined(separator: "+")
        logger.info("DNS listening", metadata: [
            "addresses": "\(addresses.map(Self.describe).joined(separator: ", "))",
            "protocols": "\(protocols)", "udp_threads": "\(configuration.udp ? configuration.udpThreads : 0)", "zones": "\(snapshot.origins.map(\.description).joined(separator: ", "))",
        ])
        if configuration.backgroundNice > 0 {
            // The event loops answer TCP queries: they keep their priority too
            // (named, so that `ps -L` and the tests tell them apart).
            if configuration.tcp { await Self.markQueryThreads(loops) }
            // After the UDP threads started: threads inherit their creator's nice value.
            await BackgroundPriority(nice: configuration.backgroundNice, logger: logger).run()
            if configuration.tcp { await Self.markQueryThreads(loops, register: false) }
        } else {
            try? await gracefulShutdown()
        }
        logger.info("DNS listener shutting down")
        stopWorkers()
        for channel in channels { try? await channel.close() }
    }

    /// Names each loop's thread `cdnsd-tcp-N` and registers it in
    /// ``QueryThreads`` (or takes it out again).
    private static func markQueryThreads(_ loops: [any EventLoop], register: Bool = true) async {
        for (index, loop) in loops.enumerated() {
            try? await loop.submit {
                if register {
                    cdns_set_thread_name("cdnsd-tcp-\(index)")
                    QueryThreads.register()
                } else {
                    QueryThreads.unregister()
                }
            }.get()
        }
    }

    /// Datagrams read per `recvmmsg`.
    static let vectorReadCount = 32
    /// The largest datagram read whole: a signed UPDATE with a few records
    /// is far above the 128 bytes a query needs.
    static let maxDatagram = 4096

    static func describe(_ address: SocketAddress) -> String {
        switch address {
        case .v6: "[\(address.ipAddress ?? "?")]:\(address.port ?? 0)"
        default: "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
    }

    private func bindUDP(_ address: SocketAddress, cache: SnapshotCache, rateLimiter: ResponseRateLimiter) async throws -> any Channel {
        let responder = QueryResponder(maxUDPPayload: configuration.maxUDPPayload)
        let requestHandler = requestHandler
        return try await DatagramBootstrap(group: cache.eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
            .channelOption(.datagramVectorReadMessageCount, value: Self.vectorReadCount)
            // NIO splits this buffer evenly between the datagrams of one
            // vector read: each gets `maxDatagram` bytes; longer ones arrive
            // cut short and are answered FORMERR.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.vectorReadCount * Self.maxDatagram))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(responder: responder, cache: cache, requestHandler: requestHandler, rateLimiter: rateLimiter))
                }
            }
            .bind(to: address)
            .get()
    }

    private func bindTCP(_ address: SocketAddress, caches: [SnapshotCache], connections: TCPConnectionTable) async throws -> any Channel {
        let responder = QueryResponder(maxUDPPayload: configuration.maxUDPPayload)
        let limits = configuration.tcpLimits
        let requestHandler = requestHandler
        let scratches = caches.map { TCPReplyScratch(eventLoop: $0.eventLoop) }
        let metrics = TCPMetrics()
        return try await ServerBootstrap(group: group)
            // A deep backlog: under a connection flood, newcomers wait in
            // the kernel instead of being dropped.
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.maxMessagesPerRead, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Always admitted: a full table closes its longest-idle connection instead.
                    try channel.pipeline.syncOperations.addHandler(TCPAdmissionHandler(table: connections))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                // Evicted between its accept and now: it is being closed.
                guard let index = caches.firstIndex(where: { $0.eventLoop === channel.eventLoop }), let slot = connections.slot(for: channel) else {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        TCPQueryHandler(responder: responder, cache: caches[index], scratch: scratches[index], requestHandler: requestHandler,
                                        limits: limits, slot: slot, metrics: metrics))
                }
            }
            .bind(to: address)
            .get()
    }
}
