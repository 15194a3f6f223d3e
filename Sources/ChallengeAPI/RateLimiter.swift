import Synchronization
import ZoneStore

/// A token bucket per client source: `perMinute` tokens a minute, at most
/// `perMinute` saved up (a burst). IPv4 sources count per address, IPv6
/// per /64 (what one host usually holds). Zero turns the limit off.
///
/// The table is bounded: when it holds `maxSources` sources, buckets
/// that have filled up again are dropped, and if none has, the oldest half.
public final class SourceRateLimiter: Sendable {
    public let perMinute: Int
    public let maxSources: Int
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }
    private let buckets = Mutex<[IPAddress: Bucket]>([:])

    public init(perMinute: Int, maxSources: Int = 100_000) {
        self.perMinute = max(0, perMinute)
        self.maxSources = max(16, maxSources)
    }

    /// The key `address` is counted under.
    public static func source(_ address: IPAddress) -> IPAddress {
        address.isIPv6 ? address.masked(to: 64) : address
    }

    /// Takes a token for `address`: nil when one was there, else the
    /// seconds until one will be (for Retry-After).
    public func take(_ address: IPAddress, now: ContinuousClock.Instant = .now) -> Int? {
        guard perMinute > 0 else { return nil }
        let key = Self.source(address)
        let capacity = Double(perMinute)
        let perSecond = capacity / 60
        return buckets.withLock { buckets -> Int? in
            var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            let elapsed = bucket.updated.duration(to: now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(capacity, bucket.tokens + max(0, seconds) * perSecond)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                if buckets[key] == nil, buckets.count >= maxSources { Self.trim(&buckets, capacity: capacity, perSecond: perSecond, now: now, limit: maxSources) }
                buckets[key] = bucket
                return nil
            }
            buckets[key] = bucket
            return max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up)))
        }
    }

    /// Gives back a token taken for `address` (the attempt it paid for succeeded).
    public func refund(_ address: IPAddress) {
        guard perMinute > 0 else { return }
        let key = Self.source(address)
        let capacity = Double(perMinute)
        buckets.withLock { buckets in
            if var bucket = buckets[key] {
                bucket.tokens = min(capacity, bucket.tokens + 1)
                buckets[key] = bucket
            }
        }
    }

    /// Sources with a bucket now; for tests.
    public var sourceCount: Int { buckets.withLock { $0.count } }

    private static func trim(_ buckets: inout [IPAddress: Bucket], capacity: Double, perSecond: Double, now: ContinuousClock.Instant, limit: Int) {
        buckets = buckets.filter { _, bucket in
            let elapsed = bucket.updated.duration(to: now)
            return bucket.tokens + Double(elapsed.components.seconds) * perSecond < capacity
        }
        if buckets.count >= limit {
            let oldest = buckets.sorted { $0.value.updated < $1.value.updated }.prefix(buckets.count / 2).map(\.key)
            for key in oldest { buckets[key] = nil }
        }
    }
}
