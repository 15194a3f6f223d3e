import DNSWire
import Metrics
import NIOCore
import Synchronization
import ZoneStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Response rate limiting for UDP (RRL, as Knot's `rrl` module and BIND's
/// `rate-limit`): at most `rate` responses per second for each pair of
/// (source prefix, response class). A response over the limit is dropped,
/// except every `slip`-th one, which goes out truncated (TC=1, question
/// only) so that a real resolver behind that prefix retries over TCP,
/// which is never limited. A spoofed-source flood then reflects at most
/// `rate` answers a second (plus the small slipped ones) onto its victim.
///
/// One table for the whole server, shared by every UDP thread: each bucket
/// is one 64-bit word updated with a compare-and-swap, so the limit holds
/// for the process however the kernel spreads a source's datagrams over
/// the `SO_REUSEPORT` sockets, with no lock and no allocation per call.
/// Colliding prefixes share a bucket (never more than `rate` between
/// them); the hash is seeded at random per process, so a flood cannot aim
/// its collisions at a chosen resolver.
///
/// The value is a cheap handle: copy it into each handler and call
/// ``decide(source:response:now:)`` (or ``decide(ipv4:class:now:)`` and
/// ``decide(ipv6High:low:class:now:)`` from a path that holds raw socket
/// addresses) after the response is written and before it is sent.
public struct ResponseRateLimiter: Sendable {
    /// What to do with one response.
    public enum Decision: Sendable, Equatable {
        /// Within the rate: send it as written.
        case send
        /// Over the rate, but this one goes out truncated (``truncate(_:length:)``).
        case slip
        /// Over the rate: send nothing.
        case drop
    }

    /// The answer classes limited separately (Knot's and BIND's classes
    /// without the DNSSEC ones cdnsd does not serve).
    public enum ResponseClass: UInt8, Sendable, CaseIterable {
        /// NOERROR with records in the answer section.
        case answer = 0
        /// NOERROR, authoritative, empty answer (NODATA).
        case nodata = 1
        /// NOERROR, not authoritative, empty answer: a delegation.
        case referral = 2
        case nxdomain = 3
        /// Every other response code (REFUSED, FORMERR, NOTIMP, SERVFAIL…).
        case error = 4
    }

    public struct Configuration: Sendable, Equatable {
        /// Responses per second per (prefix, class); 0 turns limiting off.
        public var rate: Int
        /// Every `slip`-th limited response is sent truncated instead of
        /// dropped: 1 truncates them all, 0 drops them all.
        public var slip: Int
        /// Sources are grouped by these prefixes (BIND's and Knot's /24 and /56).
        public var ipv4PrefixLength: Int
        public var ipv6PrefixLength: Int
        /// Buckets in the table, rounded up to a power of two; 8 bytes each.
        public var tableSize: Int
        /// Sources never limited. Loopback by default: nothing off the
        /// machine can send from it, and local benchmarks come from it.
        public var exempt: [IPNetwork]

        public static let defaultExempt: [IPNetwork] = [IPNetwork("127.0.0.0/8"), IPNetwork("::1/128")].compactMap { $0 }

        public init(rate: Int = 200, slip: Int = 2, ipv4PrefixLength: Int = 24, ipv6PrefixLength: Int = 56, tableSize: Int = 65536, exempt: [IPNetwork] = Self.defaultExempt) {
            self.rate = rate
            self.slip = slip
            self.ipv4PrefixLength = ipv4PrefixLength
            self.ipv6PrefixLength = ipv6PrefixLength
            self.tableSize = tableSize
            self.exempt = exempt
        }

        /// Limiting off.
        public static let off = Configuration(rate: 0)
    }

    private let table: RateTable?

    public init(_ configuration: Configuration) {
        table = configuration.rate > 0 ? RateTable(configuration) : nil
    }

    /// Whether any response can be limited (a rate above 0).
    public var isEnabled: Bool { table != nil }

    /// The clock the limiter counts in: whole seconds of monotonic time,
    /// from 1. Callers may read it once per batch of datagrams.
    public static func now() -> UInt32 {
        var spec = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_MONOTONIC_COARSE, &spec)
        #else
        clock_gettime(CLOCK_MONOTONIC, &spec)
        #endif
        return UInt32(truncatingIfNeeded: spec.tv_sec) &+ 1
    }

    /// Decides for `response` (a complete message as written) sent to `source`.
    public func decide(source: SocketAddress, response: UnsafeRawBufferPointer, now: UInt32) -> Decision {
        guard let table else { return .send }
        let responseClass = Self.classify(response)
        switch source {
        case .v4(let address):
            return table.decide(ipv4: UInt32(bigEndian: address.address.sin_addr.s_addr), class: responseClass, now: now)
        case .v6(let address):
            var raw = address.address.sin6_addr
            let (high, low) = withUnsafeBytes(of: &raw) { bytes in
                (UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            return table.decide(ipv6High: high, low: low, class: responseClass, now: now)
        default:
            return .send
        }
    }

    /// `decide(source:response:now:)` for an IPv4 source in host order.
    public func decide(ipv4 address: UInt32, class responseClass: ResponseClass, now: UInt32) -> Decision {
        table?.decide(ipv4: address, class: responseClass, now: now) ?? .send
    }

    /// `decide(source:response:now:)` for an IPv6 source, its two halves in
    /// host order. IPv4-mapped addresses count as IPv4.
    public func decide(ipv6High high: UInt64, low: UInt64, class responseClass: ResponseClass, now: UInt32) -> Decision {
        table?.decide(ipv6High: high, low: low, class: responseClass, now: now) ?? .send
    }

    /// The class of a response from its header alone.
    public static func classify(_ response: UnsafeRawBufferPointer) -> ResponseClass {
        guard response.count >= 12 else { return .error }
        switch response[3] & 0x0F {
        case 0:
            if response[6] != 0 || response[7] != 0 { return .answer }
            return response[2] & 0x04 != 0 ? .nodata : .referral
        case 3: return .nxdomain
        default: return .error
        }
    }

    /// Rewrites the response of `length` bytes at the start of `message` as
    /// a slipped one: the header with TC set and only the first question,
    /// no records and no OPT. Returns the new length (12 when the question
    /// cannot be walked).
    public static func truncate(_ message: UnsafeMutableRawBufferPointer, length: Int) -> Int {
        guard length >= 12, message.count >= length else { return length }
        message[2] |= 0x02
        for offset in 6..<12 { message[offset] = 0 }
        var end = 12
        var questions: UInt8 = 0
        if message[4] != 0 || message[5] != 0 {
            var position = 12
            while position < length {
                let label = Int(message[position])
                if label == 0 { position += 1; break }
                if label & 0xC0 != 0 { position += 2; break }
                position += 1 + label
            }
            if position + 4 <= length && position > 12 {
                end = position + 4
                questions = 1
            }
        }
        message[4] = 0
        message[5] = questions
        return end
    }
}

/// The shared buckets. Each is one word: the second it was last refilled
/// (32 bits), tokens left (24 bits), and the slip counter (8 bits).
///
/// `@unchecked Sendable`: the buffer is allocated once, never resized, and
/// every access after `init` goes through `Atomic` operations; the other
/// properties are immutable.
private final class RateTable: @unchecked Sendable {
    private let buckets: UnsafeMutablePointer<Atomic<UInt64>>
    private let mask: Int
    private let rate: UInt64
    private let slip: UInt64
    private let seed: UInt64
    private let ipv4Mask: UInt32
    private let ipv6HighMask: UInt64
    private let ipv6LowMask: UInt64
    /// (network, mask) pairs, host order.
    private let exempt4: [(UInt32, UInt32)]
    private let exempt6: [(UInt64, UInt64, UInt64, UInt64)]

    init(_ configuration: ResponseRateLimiter.Configuration) {
        var size = 1
        while size < max(configuration.tableSize, 1) && size < 1 << 24 { size <<= 1 }
        mask = size - 1
        // calloc: a zero word is an empty bucket, and pages nobody hashed to
        // are never touched (the default table is 512 kB).
        guard let zeroed = calloc(size, MemoryLayout<Atomic<UInt64>>.stride) else {
            fatalError("no memory for \(size) rate-limit buckets")
        }
        buckets = zeroed.bindMemory(to: Atomic<UInt64>.self, capacity: size)
        rate = UInt64(min(configuration.rate, 0xFF_FFFF))
        slip = UInt64(min(max(configuration.slip, 0), 255))
        seed = UInt64.random(in: 1...UInt64.max)
        ipv4Mask = Self.mask32(configuration.ipv4PrefixLength)
        (ipv6HighMask, ipv6LowMask) = Self.mask128(configuration.ipv6PrefixLength)
        var exempt4: [(UInt32, UInt32)] = []
        var exempt6: [(UInt64, UInt64, UInt64, UInt64)] = []
        for network in configuration.exempt {
            let text = network.address.description
            if let v4 = IPv4Address(text) {
                let mask = Self.mask32(network.prefixLength)
                exempt4.append((v4.rawValue & mask, mask))
            } else if let v6 = IPv6Address(text) {
                let (high, low) = Self.mask128(network.prefixLength)
                exempt6.append((v6.high & high, v6.low & low, high, low))
            }
        }
        self.exempt4 = exempt4
        self.exempt6 = exempt6
    }

    deinit {
        free(buckets)
    }

    static func mask32(_ length: Int) -> UInt32 {
        let length = min(max(length, 0), 32)
        return length == 0 ? 0 : UInt32.max << (32 - length)
    }

    static func mask128(_ length: Int) -> (UInt64, UInt64) {
        let length = min(max(length, 0), 128)
        if length <= 64 { return (length == 0 ? 0 : UInt64.max << (64 - length), 0) }
        return (UInt64.max, UInt64.max << (128 - length))
    }

    func decide(ipv4 address: UInt32, class responseClass: ResponseRateLimiter.ResponseClass, now: UInt32) -> ResponseRateLimiter.Decision {
        for (network, mask) in exempt4 where address & mask == network { return .send }
        let key = UInt64(address & ipv4Mask) << 8 | UInt64(responseClass.rawValue)
        return take(bucket: index(key, 0x4), now: now)
    }

    func decide(ipv6High high: UInt64, low: UInt64, class responseClass: ResponseRateLimiter.ResponseClass, now: UInt32) -> ResponseRateLimiter.Decision {
        if high == 0 && low >> 32 == 0xFFFF {
            return decide(ipv4: UInt32(truncatingIfNeeded: low), class: responseClass, now: now)
        }
        for (networkHigh, networkLow, maskHigh, maskLow) in exempt6 where high & maskHigh == networkHigh && low & maskLow == networkLow {
            return .send
        }
        let key = (high & ipv6HighMask) ^ Self.mix((low & ipv6LowMask) ^ 0x6)
        return take(bucket: index(key, UInt64(responseClass.rawValue) << 56 | 0x6), now: now)
    }

    private func index(_ key: UInt64, _ tweak: UInt64) -> Int {
        Int(truncatingIfNeeded: Self.mix(key ^ seed ^ tweak)) & mask
    }

    /// A 64-bit finaliser (splitmix64's).
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private func take(bucket index: Int, now: UInt32) -> ResponseRateLimiter.Decision {
        var old = buckets[index].load(ordering: .relaxed)
        while true {
            var stamp = UInt32(truncatingIfNeeded: old >> 32)
            var tokens = (old >> 8) & 0xFF_FFFF
            var slipped = old & 0xFF
            // Threads read the clock once per batch, so a caller's `now` can
            // be a second behind the bucket's: that is the same second, not a
            // new one (refilling then would let two threads alternating
            // between seconds N and N+1 refill the bucket on every call).
            let elapsed = Int32(bitPattern: now &- stamp)
            if stamp == 0 || elapsed > 0 {
                // A bucket never used (stamp 0) or untouched for a while fills up.
                tokens = stamp == 0 ? rate : min(rate, tokens + UInt64(elapsed) * rate)
                stamp = now
            }
            let decision: ResponseRateLimiter.Decision
            if tokens > 0 {
                tokens -= 1
                decision = .send
            } else {
                slipped += 1
                if slip > 0 && slipped >= slip {
                    slipped = 0
                    decision = .slip
                } else {
                    if slipped > 0xFF { slipped = 0 }
                    decision = .drop
                }
            }
            let new = UInt64(stamp) << 32 | tokens << 8 | slipped
            let (exchanged, current) = buckets[index].compareExchange(expected: old, desired: new, ordering: .relaxed)
            if exchanged { return decision }
            old = current
        }
    }
}

extension ResponseRateLimiter {
    /// The hook for a path that holds raw socket addresses (the UDP fast
    /// path): decides for the response of `length` bytes at the start of
    /// `output`, sent to `peer` (a `sockaddr_in` or `sockaddr_in6` as
    /// `recvmmsg` filled it in), truncates it in place on `.slip`, and
    /// returns the length to send, 0 to send nothing. `decision` tells a
    /// `RateLimitCounter` what happened. Any other address family is sent.
    @inline(__always)
    public func admit(_ output: UnsafeMutableRawBufferPointer, length: Int, peer: UnsafeRawBufferPointer, now: UInt32, decision: inout Decision) -> Int {
        decision = .send
        guard let table, length >= 12, peer.count >= 8 else { return length }
        let response = UnsafeRawBufferPointer(rebasing: output[..<length])
        let responseClass = Self.classify(response)
        switch Int32(peer.loadUnaligned(as: sa_family_t.self)) {
        case AF_INET where peer.count >= MemoryLayout<sockaddr_in>.size:
            decision = table.decide(ipv4: UInt32(bigEndian: peer.loadUnaligned(fromByteOffset: 4, as: UInt32.self)), class: responseClass, now: now)
        case AF_INET6 where peer.count >= MemoryLayout<sockaddr_in6>.size:
            decision = table.decide(ipv6High: UInt64(bigEndian: peer.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                                    low: UInt64(bigEndian: peer.loadUnaligned(fromByteOffset: 16, as: UInt64.self)), class: responseClass, now: now)
        default:
            return length
        }
        switch decision {
        case .send: return length
        case .slip: return Self.truncate(output, length: length)
        case .drop: return 0
        }
    }

    /// The one-line hook for a UDP path: decides for the response in
    /// `response` (its readable bytes) to `source`, and on `.slip`
    /// truncates it in place. The caller sends it unless `.drop`. The clock
    /// is read only when limiting is on and `now` is not given.
    @inlinable
    public func apply(to response: inout ByteBuffer, source: SocketAddress, now: UInt32? = nil) -> Decision {
        guard isEnabled else { return .send }
        let now = now ?? Self.now()
        let decision = response.withUnsafeReadableBytes { decide(source: source, response: $0, now: now) }
        if decision == .slip {
            let length = response.withUnsafeMutableReadableBytes { Self.truncate($0, length: $0.count) }
            response.moveWriterIndex(to: response.readerIndex + length)
        }
        return decision
    }
}

/// Counts limited responses on one channel and hands the counts to
/// swift-metrics once per read burst (`cdnsd_dns_rrl_limited_total` with
/// `action` = `slipped` or `dropped`), like `QueryCounter`.
public struct RateLimitCounter {
    private var slipped: Int64 = 0
    private var dropped: Int64 = 0
    private var counters: (slipped: Counter, dropped: Counter)?

    public init() {}

    /// Counts one decision; `.send` costs nothing.
    @inline(__always)
    public mutating func count(_ decision: ResponseRateLimiter.Decision) {
        switch decision {
        case .send: break
        case .slip: slipped += 1
        case .drop: dropped += 1
        }
    }

    public mutating func flush() {
        guard slipped != 0 || dropped != 0 else { return }
        if counters == nil {
            counters = (Counter(label: "cdnsd_dns_rrl_limited_total", dimensions: [("action", "slipped")]),
                        Counter(label: "cdnsd_dns_rrl_limited_total", dimensions: [("action", "dropped")]))
        }
        if slipped != 0 { counters?.slipped.increment(by: slipped) }
        if dropped != 0 { counters?.dropped.increment(by: dropped) }
        slipped = 0
        dropped = 0
    }
}
