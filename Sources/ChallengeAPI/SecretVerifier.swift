import Crypto
import Foundation
import HummingbirdBcrypt
import Metrics
import NIOPosix
import Synchronization

/// Checks secrets against bcrypt hashes, remembering the ones that verified
/// so that repeat calls skip bcrypt's deliberate cost (about 70 ms at cost
/// 10: acme-dns runs it on every /update and tops out near 13 per second).
///
/// The cache is bounded, keyed by an HMAC of user and secret under a key
/// that lives only in this process (so it holds no secret and no unsalted
/// hash of one), and remembers which stored hash the secret matched: an
/// entry counts only while the store still holds that same hash, so a
/// changed password or a removed account never verifies from the cache.
public final class SecretVerifier: Sendable {
    private struct Cache {
        var entries: [Data: String] = [:]
    }

    private let key = SymmetricKey(size: .bits256)
    private let cache = Mutex(Cache())
    /// Most verified secrets remembered at once.
    public let capacity: Int

    private let hits = Counter(label: "cdnsd_api_secret_cache_total", dimensions: [("result", "hit")])
    private let misses = Counter(label: "cdnsd_api_secret_cache_total", dimensions: [("result", "miss")])

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// Whether `secret` matches `hash`, the hash the store holds for `user` now.
    public func verify(user: String, secret: String, hash: String) async -> Bool {
        var message = Data(user.utf8)
        message.append(0)
        message.append(contentsOf: secret.utf8)
        let cacheKey = Data(HMAC<SHA256>.authenticationCode(for: message, using: key))
        if cache.withLock({ $0.entries[cacheKey] == hash }) {
            hits.increment()
            return true
        }
        misses.increment()
        let matches = (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(secret, hash: hash) }) ?? false
        guard matches else { return false }
        cache.withLock { cache in
            if cache.entries.count >= capacity { cache.entries.removeAll(keepingCapacity: true) }
            cache.entries[cacheKey] = hash
        }
        return true
    }

    /// How many verified secrets are remembered; for tests and metrics.
    public var cachedCount: Int { cache.withLock { $0.entries.count } }

    /// Forgets every verified secret.
    public func clear() {
        cache.withLock { $0.entries.removeAll() }
    }
}

/// Random secrets and identifiers for accounts and credentials.
public enum SecretGenerator {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_".utf8)

    /// A 40-character password from acme-dns's alphabet (240 bits).
    public static func password(length: Int = 40) -> String {
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))] }, as: UTF8.self)
    }

    /// A lowercase random UUID, as acme-dns uses for usernames and subdomains.
    public static func uuid() -> String { UUID().uuidString.lowercased() }

    /// bcrypt of `secret` at `cost`, off the calling thread.
    public static func hash(_ secret: String, cost: UInt8 = 10) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(secret, cost: cost) }
    }
}
