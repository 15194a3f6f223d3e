import DNSWire
import Logging
import Metrics
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

/// Where one zone's NOTIFYs go: the `notify = ["ip:port", ...]` list of a
/// `[[zone]]` and, with `notify_nameservers = true`, the zone's NS hosts;
/// signed with `key` when one is set.
public struct NotifyTargets: Sendable {
    public var addresses: [SocketAddress]
    /// Also notify the apex NS hosts (RFC 1996 §3.6: all but the SOA mname)
    /// on port 53, at the A and AAAA records our zones hold for them.
    public var nameservers: Bool
    /// The TSIG key NOTIFYs are signed with, looked up when they are sent.
    public var key: DNSName?

    public init(addresses: [SocketAddress], nameservers: Bool = false, key: DNSName? = nil) {
        self.addresses = addresses
        self.nameservers = nameservers
        self.key = key
    }

    /// The configured addresses, then those of the zone's NS hosts other
    /// than the SOA mname, each once. A host our zones hold no address for
    /// is left out (cdnsd resolves nothing through other servers).
    public func resolve(_ origin: DNSName, in snapshot: ZoneSnapshot, port: Int = 53) -> [SocketAddress] {
        var result = addresses
        guard nameservers, let zone = snapshot[origin] else { return result }
        let mname: DNSName? = if case .soa(let soa) = zone.soa.data { soa.mname } else { nil }
        for record in zone.records(at: origin) {
            guard case .ns(let host) = record.data, host != mname, let holder = snapshot.zone(containing: host) else { continue }
            for address in holder.records(at: host) {
                let text: String
                switch address.data {
                case .a(let v4): text = v4.description
                case .aaaa(let v6): text = v6.description
                default: continue
                }
                guard let socket = try? SocketAddress(ipAddress: text, port: port),
                      !result.contains(where: { NotifySocket.sameEndpoint($0, socket) }) else { continue }
                result.append(socket)
            }
        }
        return result
    }
}

/// How NOTIFYs are coalesced and retried.
public struct NotifySchedule: Sendable {
    /// At most one NOTIFY per zone and target in this many milliseconds;
    /// changes in between go out together at the window's end.
    public var coalesceMilliseconds: Int
    /// How long each attempt waits for the answer; one attempt per entry.
    public var attemptTimeoutsMilliseconds: [Int]

    public init(coalesceMilliseconds: Int = 100, attemptTimeoutsMilliseconds: [Int] = [1000, 2000, 4000, 8000, 16000, 30000, 60000]) {
        self.coalesceMilliseconds = coalesceMilliseconds
        self.attemptTimeoutsMilliseconds = attemptTimeoutsMilliseconds
    }
}

/// Tells secondaries that a zone changed (RFC 1996): subscribes to the
/// store's snapshots, and whenever a zone's serial moves (and once at
/// start) sends NOTIFY with the new SOA to each of the zone's targets over
/// UDP, coalescing changes within a short window (the first change after a
/// quiet spell goes out at once) and retrying each target with backoff
/// until it answers. A newer change supersedes the retries of
/// an older one.
///
/// Metrics: `cdnsd_notifies_total{outcome}` with sent (datagrams), acked
/// (NOERROR answers, TSIG-verified when the NOTIFY was signed), unverified
/// (answers to a signed NOTIFY whose TSIG did not verify, retried) and
/// failed (error answers and targets given up on).
public final class NotifyService: Service, SnapshotSubscriber {
    private let store: any RecordStore
    private let zones: [DNSName: NotifyTargets]
    private let keys: @Sendable (DNSName) async -> TSIGCredential?
    private let schedule: NotifySchedule
    private let group: any EventLoopGroup
    private let logger: Logger
    private let wakeups: [DNSName: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)]
    private let serials = NIOLockedValueBox<[DNSName: UInt32]>([:])

    /// - Parameter keys: the signing material of a key name, nil when unknown.
    public init(store: any RecordStore, zones: [DNSName: NotifyTargets], keys: @escaping @Sendable (DNSName) async -> TSIGCredential?,
                schedule: NotifySchedule = NotifySchedule(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.store = store
        self.zones = zones.filter { !$0.value.addresses.isEmpty || $0.value.nameservers }
        self.keys = keys
        self.schedule = schedule
        self.group = group
        self.logger = logger
        var wakeups: [DNSName: (AsyncStream<Void>, AsyncStream<Void>.Continuation)] = [:]
        for origin in self.zones.keys { wakeups[origin] = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1)) }
        self.wakeups = wakeups
    }

    public func apply(_ snapshot: ZoneSnapshot) async {
        var changed: [DNSName] = []
        serials.withLockedValue { known in
            for origin in zones.keys {
                guard let serial = snapshot[origin]?.serial, known[origin] != serial else { continue }
                known[origin] = serial
                changed.append(origin)
            }
        }
        for origin in changed { wakeups[origin]?.continuation.yield() }
    }

    public func run() async throws {
        guard !zones.isEmpty else {
            // Nothing to notify; a service that returns early stops the group.
            try? await gracefulShutdown()
            return
        }
        let socket = try await NotifySocket.bind(group: group)
        await store.subscribe(self)
        logger.info("NOTIFY targets", metadata: ["zones": "\(zones.map { "\($0.key): \($0.value.addresses.map(DNSListener.describe).joined(separator: ","))" }.sorted().joined(separator: "; "))"])
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for (origin, wakeup) in wakeups {
                    group.addTask { await self.follow(origin, wakeups: wakeup.stream, socket: socket) }
                }
            }
        } onGracefulShutdown: {
            for wakeup in self.wakeups.values { wakeup.continuation.finish() }
        }
        await socket.close()
    }

    /// One zone: waits for a change and notifies every target of the
    /// serial current then. The first change after a quiet window goes out
    /// at once; changes within the window of the last NOTIFY wait for its
    /// end and go out as one.
    private func follow(_ origin: DNSName, wakeups: AsyncStream<Void>, socket: NotifySocket) async {
        guard let targets = zones[origin] else { return }
        var senders: [Task<Void, Never>] = []
        let clock = ContinuousClock()
        let window = Duration.milliseconds(schedule.coalesceMilliseconds)
        var lastSent: ContinuousClock.Instant? = nil
        for await _ in wakeups {
            if let lastSent, clock.now < lastSent + window {
                try? await Task.sleep(until: lastSent + window, clock: clock)
            }
            lastSent = clock.now
            let snapshot = await store.snapshot()
            guard let zone = snapshot[origin] else { continue }
            for sender in senders { sender.cancel() }
            let credential: TSIGCredential? = if let key = targets.key { await keys(key) } else { nil }
            if let key = targets.key, credential == nil {
                logger.warning("NOTIFY key unknown; sending unsigned", metadata: ["zone": "\(origin)", "key": "\(key)"])
            }
            senders = targets.resolve(origin, in: snapshot).map { address in
                Task { await self.notify(zone.soa, origin: origin, to: address, credential: credential, socket: socket) }
            }
        }
        for sender in senders { sender.cancel() }
    }

    private func notify(_ soa: ResourceRecord, origin: DNSName, to address: SocketAddress, credential: TSIGCredential?, socket: NotifySocket) async {
        let serial: UInt32 = if case .soa(let data) = soa.data { data.serial } else { 0 }
        let target = DNSListener.describe(address)
        for (attempt, timeout) in schedule.attemptTimeoutsMilliseconds.enumerated() {
            guard !Task.isCancelled else { return }
            var requestMAC: [UInt8] = []
            let reply = await socket.exchange(to: address, timeoutMilliseconds: timeout) { id in
                let header = DNSHeader(id: id, flags: [.authoritative], opcode: .notify)
                guard let bytes = try? DNSMessage(header: header, questions: [Question(name: origin, type: .soa)], answers: [soa]).encode() else { return [] }
                guard let credential else { return bytes }
                let signed = TSIGSigner(credential: credential).sign(request: bytes, time: UInt64(time(nil)))
                requestMAC = signed.mac
                return signed.message
            }
            Self.count("sent")
            guard let reply else {
                logger.debug("NOTIFY unanswered", metadata: ["zone": "\(origin)", "serial": "\(serial)", "target": "\(target)", "attempt": "\(attempt + 1)"])
                continue
            }
            let rcode = reply.count >= 4 ? ResponseCode(rawValue: UInt16(reply[3] & 0x0F)) : .formErr
            if let credential, rcode == .noError {
                // RFC 8945 §5.3.2: the answer to a signed request must be signed
                // with the same key over our MAC; anything else is not an answer
                // (a forged or mangled datagram), so the attempt is retried.
                if case .failure(let problem) = TSIGVerifier.verifyResponse(reply, credential: credential, requestMAC: requestMAC) {
                    Self.count("unverified")
                    logger.warning("NOTIFY answer failed TSIG verification; retrying", metadata: [
                        "zone": "\(origin)", "serial": "\(serial)", "target": "\(target)", "key": "\(credential.name)", "reason": "\(problem.reason)",
                    ])
                    continue
                }
            }
            if rcode == .noError {
                Self.count("acked")
                logger.info("NOTIFY acknowledged", metadata: ["zone": "\(origin)", "serial": "\(serial)", "target": "\(target)", "attempt": "\(attempt + 1)"])
            } else {
                Self.count("failed")
                logger.warning("NOTIFY answered with an error", metadata: ["zone": "\(origin)", "serial": "\(serial)", "target": "\(target)", "rcode": "\(rcode)"])
            }
            return
        }
        guard !Task.isCancelled else { return }
        Self.count("failed")
        logger.warning("NOTIFY never answered; giving up", metadata: [
            "zone": "\(origin)", "serial": "\(serial)", "target": "\(target)", "attempts": "\(schedule.attemptTimeoutsMilliseconds.count)",
        ])
    }

    static func count(_ outcome: String) {
        Counter(label: "cdnsd_notifies_total", dimensions: [("outcome", outcome)]).increment()
    }
}

/// The UDP sockets NOTIFYs leave from (one per address family) and the
/// answers they wait for, matched by message ID and source address.
final class NotifySocket: Sendable {
    private struct Waiter {
        let address: SocketAddress
        let continuation: CheckedContinuation<[UInt8]?, Never>
    }

    private let channels = NIOLockedValueBox<[any Channel]>([])
    private let waiters = NIOLockedValueBox<[UInt16: Waiter]>([:])

    static func bind(group: any EventLoopGroup) async throws -> NotifySocket {
        let socket = NotifySocket()
        let bootstrap = DatagramBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NotifyReplyHandler(socket: socket)) }
        }
        let v4 = try await bootstrap.bind(host: "0.0.0.0", port: 0).get()
        var bound: [any Channel] = [v4]
        // IPv6 is optional: a host without it still notifies IPv4 targets.
        if let v6 = try? await bootstrap.bind(host: "::", port: 0).get() { bound.append(v6) }
        socket.channels.withLockedValue { $0 = bound }
        return socket
    }

    /// Sends the message `build` makes for a fresh ID to `address` and
    /// returns the answer, or nil after `timeoutMilliseconds` or when cancelled.
    func exchange(to address: SocketAddress, timeoutMilliseconds: Int, build: (UInt16) -> [UInt8]) async -> [UInt8]? {
        let family = address.protocol
        guard let channel = channels.withLockedValue({ $0.first { $0.localAddress?.protocol == family } }) else { return nil }
        let id: UInt16 = waiters.withLockedValue { current in
            var id = UInt16.random(in: 0...UInt16.max)
            while current[id] != nil { id = UInt16.random(in: 0...UInt16.max) }
            return id
        }
        let bytes = build(id)
        guard !bytes.isEmpty else { return nil }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiters.withLockedValue { $0[id] = Waiter(address: address, continuation: continuation) }
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: bytes)), promise: nil)
                channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeoutMilliseconds))) { self.resolve(id, from: nil, with: nil) }
            }
        } onCancel: {
            resolve(id, from: nil, with: nil)
        }
    }

    /// Hands `reply` to the waiter for `id`; `source` nil resolves it without an answer.
    func resolve(_ id: UInt16, from source: SocketAddress?, with reply: [UInt8]?) {
        let waiter: Waiter? = waiters.withLockedValue { current in
            guard let waiter = current[id] else { return nil }
            if let source, !Self.sameEndpoint(source, waiter.address) { return nil }
            current[id] = nil
            return waiter
        }
        waiter?.continuation.resume(returning: reply)
    }

    static func sameEndpoint(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        a.ipAddress == b.ipAddress && a.port == b.port
    }

    func close() async {
        for channel in channels.withLockedValue({ $0 }) { try? await channel.close() }
        let pending = waiters.withLockedValue { current in
            defer { current = [:] }
            return Array(current.values)
        }
        for waiter in pending { waiter.continuation.resume(returning: nil) }
    }
}

/// Passes NOTIFY answers to the `NotifySocket` waiting for them.
final class NotifyReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let socket: NotifySocket

    init(socket: NotifySocket) { self.socket = socket }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let bytes = envelope.data.getBytes(at: envelope.data.readerIndex, length: envelope.data.readableBytes), bytes.count >= 12,
              bytes[2] & 0x80 != 0, (bytes[2] >> 3) & 0x0F == 4 else { return }
        socket.resolve(UInt16(bytes[0]) << 8 | UInt16(bytes[1]), from: envelope.remoteAddress, with: bytes)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and the like: the attempt times out and is retried.
    }
}
