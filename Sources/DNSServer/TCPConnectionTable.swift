import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The limits on DNS over TCP, all per server (not per listen address).
public struct TCPLimits: Sendable, Equatable {
    /// Open connections at most, over every listen address together.
    public var maxConnections: Int
    /// Open connections at most from one source prefix (`ipv4PrefixLength`, `ipv6PrefixLength`).
    public var maxConnectionsPerPrefix: Int
    public var ipv4PrefixLength: Int
    public var ipv6PrefixLength: Int
    /// A connection with no complete query and nothing written for this long
    /// is closed. Partial messages do not count: bytes trickling in never
    /// keep a connection alive.
    public var idleTimeout: TimeAmount
    /// A message that has begun must arrive whole within this (Knot's
    /// `tcp-io-timeout`): a client sending a byte a second is dropped.
    public var messageTimeout: TimeAmount
    /// A connection is closed this long after it was accepted, busy or not.
    public var lifetime: TimeAmount
    /// Replies written but not yet taken by the client, at most. Beyond it
    /// (or when the socket's send buffer is full) the server stops reading
    /// from that connection until the client reads.
    public var maxRepliesInFlight: Int

    public init(maxConnections: Int = 1000, maxConnectionsPerPrefix: Int = 100, ipv4PrefixLength: Int = 24, ipv6PrefixLength: Int = 56,
                idleTimeout: TimeAmount = .seconds(10), messageTimeout: TimeAmount = .seconds(2), lifetime: TimeAmount = .seconds(120),
                maxRepliesInFlight: Int = 32) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerPrefix = maxConnectionsPerPrefix
        self.ipv4PrefixLength = ipv4PrefixLength
        self.ipv6PrefixLength = ipv6PrefixLength
        self.idleTimeout = idleTimeout
        self.messageTimeout = messageTimeout
        self.lifetime = lifetime
        self.maxRepliesInFlight = maxRepliesInFlight
    }
}

/// A source address reduced to its prefix, as a table key.
struct SourcePrefix: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    /// nil for a peer without an IP address (a Unix socket).
    init?(_ address: SocketAddress?, ipv4PrefixLength: Int, ipv6PrefixLength: Int) {
        switch address {
        case .v4(let v4)?:
            let mask: UInt32 = ipv4PrefixLength <= 0 ? 0 : UInt32.max << (32 - min(ipv4PrefixLength, 32))
            high = 4
            low = UInt64(UInt32(bigEndian: v4.address.sin_addr.s_addr) & mask)
        case .v6(let v6)?:
            var raw = v6.address.sin6_addr
            let (h, l) = withUnsafeBytes(of: &raw) { bytes in
                (UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            if h == 0 && l >> 32 == 0xFFFF {
                let mask: UInt32 = ipv4PrefixLength <= 0 ? 0 : UInt32.max << (32 - min(ipv4PrefixLength, 32))
                high = 4
                low = UInt64(UInt32(truncatingIfNeeded: l) & mask)
            } else {
                let length = min(max(ipv6PrefixLength, 0), 128)
                let highMask: UInt64 = length == 0 ? 0 : (length >= 64 ? UInt64.max : UInt64.max << (64 - length))
                let lowMask: UInt64 = length <= 64 ? 0 : UInt64.max << (128 - length)
                // The lowest bit of IPv6 keys is set, and IPv4 keys' `high` is 4: never equal.
                high = (h & highMask) | 1
                low = l & lowMask
            }
        default:
            return nil
        }
    }
}

/// Every open DNS TCP connection of the server, against the global and
/// per-prefix limits. When a new connection would go over a limit, the
/// longest-idle connection (of its prefix, or of all) is closed to admit
/// it, as Knot does, so a flood of idle connections can delay but never
/// lock out a new client.
///
/// Touched under its lock once on accept and once on close; a
/// connection's activity is an atomic in its own `Slot`, stored without
/// the lock on every query.
final class TCPConnectionTable: Sendable {
    /// One admitted connection.
    final class Slot: Sendable {
        let channel: any Channel
        let prefix: SourcePrefix?
        /// Monotonic nanoseconds of the last complete query or finished write.
        private let activity: Synchronization.Atomic<UInt64>

        init(channel: any Channel, prefix: SourcePrefix?, now: NIODeadline) {
            self.channel = channel
            self.prefix = prefix
            self.activity = Synchronization.Atomic(now.uptimeNanoseconds)
        }

        func touch(_ now: NIODeadline) { activity.store(now.uptimeNanoseconds, ordering: .relaxed) }
        var lastActivity: UInt64 { activity.load(ordering: .relaxed) }
    }

    private struct State {
        var slots: [Slot] = []
        var positions: [ObjectIdentifier: Int] = [:]
        var perPrefix: [SourcePrefix: [Slot]] = [:]
        /// By `ObjectIdentifier` of the channel.
        var byChannel: [ObjectIdentifier: Slot] = [:]
    }

    let limits: TCPLimits
    private let state = NIOLockedValueBox(State())
    private let open = Gauge(label: "cdnsd_dns_tcp_connections")
    private let accepted = Counter(label: "cdnsd_dns_tcp_accepted_total")
    private let evicted = Counter(label: "cdnsd_dns_tcp_closed_total", dimensions: [("reason", "evicted")])

    private let logger: Logger?
    /// Evicted connections whose close has not completed yet: they still hold fds.
    private let closing = Synchronization.Atomic(0)
    /// Accepting pauses while more than this many evicted connections are still closing.
    static let closingLimit = 64
    /// When a full table was last logged (monotonic nanoseconds): once in 10 s at most.
    private let lastLogged = Synchronization.Atomic<UInt64>(0)

    /// Scanned for the longest-idle connection at most; above, a random sample of this many.
    static let scanLimit = 4096

    init(limits: TCPLimits, logger: Logger? = nil) {
        self.limits = limits
        self.logger = logger
        open.record(0)
    }

    var count: Int { state.withLockedValue { $0.slots.count } }

    /// Admits `channel`, closing the longest-idle connections it displaces.
    func admit(_ channel: any Channel, now: NIODeadline = .now()) -> Slot {
        let prefix = SourcePrefix(channel.remoteAddress, ipv4PrefixLength: limits.ipv4PrefixLength, ipv6PrefixLength: limits.ipv6PrefixLength)
        let slot = Slot(channel: channel, prefix: prefix, now: now)
        let perPrefix = max(1, min(limits.maxConnectionsPerPrefix, limits.maxConnections))
        let total = max(1, limits.maxConnections)
        let (victims, count) = state.withLockedValue { state -> ([Slot], Int) in
            var victims: [Slot] = []
            if let prefix, let same = state.perPrefix[prefix], same.count >= perPrefix {
                if let victim = Self.longestIdle(same, limit: same.count) {
                    Self.remove(victim, from: &state)
                    victims.append(victim)
                }
            }
            while state.slots.count >= total, let victim = Self.longestIdle(state.slots, limit: Self.scanLimit) {
                Self.remove(victim, from: &state)
                victims.append(victim)
            }
            state.positions[ObjectIdentifier(slot)] = state.slots.count
            state.slots.append(slot)
            state.byChannel[ObjectIdentifier(channel)] = slot
            if let prefix { state.perPrefix[prefix, default: []].append(slot) }
            return (victims, state.slots.count)
        }
        accepted.increment()
        open.record(count)
        if !victims.isEmpty {
            evicted.increment(by: victims.count)
            let last = lastLogged.load(ordering: .relaxed)
            if now.uptimeNanoseconds &- last >= 10_000_000_000 || last == 0,
               lastLogged.compareExchange(expected: last, desired: now.uptimeNanoseconds, ordering: .relaxed).exchanged {
                logger?.warning("TCP connection limit reached; closing the longest-idle connection", metadata: [
                    "limit": "\(limits.maxConnections)", "per_prefix": "\(limits.maxConnectionsPerPrefix)", "open": "\(count)"])
            }
            for victim in victims {
                closing.add(1, ordering: .relaxed)
                victim.channel.closeFuture.whenComplete { _ in self.closing.subtract(1, ordering: .relaxed) }
                victim.channel.close(promise: nil)
            }
        }
        return slot
    }

    /// Whether so many evicted connections are still closing that accepting
    /// more would let the process's fds run past the cap.
    var isBackedUp: Bool { closing.load(ordering: .relaxed) > Self.closingLimit }

    /// The slot `channel` was admitted with; nil once it was evicted or closed.
    func slot(for channel: any Channel) -> Slot? {
        state.withLockedValue { $0.byChannel[ObjectIdentifier(channel)] }
    }

    /// Forgets `slot` (idempotent: an evicted slot is gone already).
    func remove(_ slot: Slot) {
        let count = state.withLockedValue { state -> Int? in
            guard state.positions[ObjectIdentifier(slot)] != nil else { return nil }
            Self.remove(slot, from: &state)
            return state.slots.count
        }
        if let count { open.record(count) }
    }

    private static func remove(_ slot: Slot, from state: inout State) {
        guard let position = state.positions.removeValue(forKey: ObjectIdentifier(slot)) else { return }
        state.byChannel[ObjectIdentifier(slot.channel)] = nil
        let last = state.slots.removeLast()
        if position < state.slots.count {
            state.slots[position] = last
            state.positions[ObjectIdentifier(last)] = position
        }
        if let prefix = slot.prefix, var same = state.perPrefix[prefix] {
            if let index = same.firstIndex(where: { $0 === slot }) { same.remove(at: index) }
            state.perPrefix[prefix] = same.isEmpty ? nil : same
        }
    }

    private static func longestIdle(_ slots: [Slot], limit: Int) -> Slot? {
        guard !slots.isEmpty else { return nil }
        if slots.count <= limit {
            return slots.min { $0.lastActivity < $1.lastActivity }
        }
        var best: Slot? = nil
        for _ in 0..<limit {
            let candidate = slots[Int.random(in: 0..<slots.count)]
            if let current = best, current.lastActivity <= candidate.lastActivity { continue }
            best = candidate
        }
        return best
    }
}

/// On the listening socket's channel: admits every accepted connection to
/// the table the moment it is accepted, before NIO hands it to its event
/// loop, so the count (and the closing of the longest-idle connection that
/// makes room) never lags behind a flood of connects. While the connections
/// it closed to make room are still closing on their loops, it stops
/// accepting (newcomers wait in the kernel's backlog), so open fds stay
/// within the cap plus `TCPConnectionTable.closingLimit` and one accept batch.
final class TCPAdmissionHandler: ChannelDuplexHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel
    typealias OutboundIn = Never

    let table: TCPConnectionTable
    private var waiting = false

    init(table: TCPConnectionTable) { self.table = table }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let slot = table.admit(child)
        let table = table
        child.closeFuture.whenComplete { _ in table.remove(slot) }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        guard table.isBackedUp else {
            context.read()
            return
        }
        guard !waiting else { return }
        waiting = true
        // Polled, and only while backed up: closes complete within milliseconds.
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(1)) { [self] in
            waiting = false
            read(context: context)
        }
    }
}
