import Crypto
import Dispatch
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
///
/// bcrypt itself runs on a pool of its own with a bounded number of
/// threads and a bounded queue per lane (`BcryptPool`): a flood of wrong
/// secrets costs at most those threads' CPU, never delays a request whose
/// secret is cached (that path is one HMAC), and, in the second lane, does
/// not delay a first-lane check beyond the runs already going. Concurrent checks of the same
/// user and secret share one bcrypt run, so a cold daemon that receives
/// the same credential on eight connections at once hashes it once.
/// An unknown user is checked against a dummy hash of the same cost, so
/// that unknown and known names cost the same.
public final class SecretVerifier: Sendable {
    /// What a check found.
    public enum Outcome: Sendable, Equatable {
        case verified
        case rejected
        /// The bcrypt queue is full: try again later.
        case overloaded
    }

    private struct Cache {
        var entries: [Data: String] = [:]
        /// Checks running now, by cache key and hash: later callers wait for the first.
        var running: [Running: [CheckedContinuation<Outcome, Never>]] = [:]
    }

    private struct Running: Hashable {
        var key: Data
        var hash: String
    }

    private let key = SymmetricKey(size: .bits256)
    private let cache = Mutex(Cache())
    /// Most verified secrets remembered at once.
    public let capacity: Int
    /// Where bcrypt runs.
    public let pool: BcryptPool
    /// bcrypt cost of the dummy hash unknown users are checked against.
    public let dummyCost: UInt8
    private let dummy = Mutex<String?>(nil)
    /// Seconds a bcrypt check has taken lately (moving average), for
    /// refusals that answer as late as a check would without doing one.
    private let typical = Mutex<Double>(0.07)
    private let runs = Atomic<Int>(0)

    /// bcrypt checks run so far (cache misses that were not shared, and unknown users).
    public var checksRun: Int { runs.load(ordering: .relaxed) }

    private let hits = Counter(label: "cdnsd_api_secret_cache_total", dimensions: [("result", "hit")])
    private let misses = Counter(label: "cdnsd_api_secret_cache_total", dimensions: [("result", "miss")])
    private let shared = Counter(label: "cdnsd_api_secret_cache_total", dimensions: [("result", "shared")])

    public init(capacity: Int = 10_000, pool: BcryptPool = BcryptPool(), dummyCost: UInt8 = 10) {
        self.capacity = capacity
        self.pool = pool
        self.dummyCost = dummyCost
    }

    /// Whether `secret` matches `hash`, the hash the store holds for `user` now.
    public func verify(user: String, secret: String, hash: String) async -> Bool {
        await check(user: user, secret: secret, hash: hash) == .verified
    }

    /// Whether the cache alone verifies `secret` for `user` against `hash`:
    /// no bcrypt, no waiting. Rate limits apply only when this is false.
    public func isCached(user: String, secret: String, hash: String?) -> Bool {
        guard let hash else { return false }
        let cacheKey = self.cacheKey(user: user, secret: secret)
        if cache.withLock({ $0.entries[cacheKey] == hash }) {
            hits.increment()
            return true
        }
        return false
    }

    /// Checks `secret` against `hash`, or, when the user is unknown (`hash`
    /// is nil), against a dummy hash so that the answer takes as long. The
    /// bcrypt run, if one is needed, waits in `lane` of the pool.
    public func check(user: String, secret: String, hash: String?, lane: BcryptPool.Lane = .second) async -> Outcome {
        let cacheKey = self.cacheKey(user: user, secret: secret)
        guard let hash else {
            guard let dummy = await dummyHash(lane: lane) else { return .overloaded }
            return await bcrypt(secret, hash: dummy, lane: lane) == .overloaded ? .overloaded : .rejected
        }
        let running = Running(key: cacheKey, hash: hash)
        enum Step { case cached, wait, run }
        // One lock: a cache hit, a check to join, or a check to start.
        let step: Step = cache.withLock { cache in
            if cache.entries[cacheKey] == hash { return .cached }
            if cache.running[running] != nil { return .wait }
            cache.running[running] = []
            return .run
        }
        switch step {
        case .cached:
            hits.increment()
            return .verified
        case .wait:
            shared.increment()
            return await withCheckedContinuation { (waiter: CheckedContinuation<Outcome, Never>) in
                let joined = cache.withLock { cache -> Bool in
                    guard cache.running[running] != nil else { return false }
                    cache.running[running]?.append(waiter)
                    return true
                }
                // The check finished between the two locks: it cached a match, or there was none.
                if !joined {
                    waiter.resume(returning: cache.withLock { $0.entries[cacheKey] == hash } ? .verified : .rejected)
                }
            }
        case .run:
            misses.increment()
            let outcome = await bcrypt(secret, hash: hash, lane: lane)
            let waiters = cache.withLock { cache -> [CheckedContinuation<Outcome, Never>] in
                if outcome == .verified {
                    if cache.entries.count >= capacity { cache.entries.removeAll(keepingCapacity: true) }
                    cache.entries[cacheKey] = hash
                }
                return cache.running.removeValue(forKey: running) ?? []
            }
            for waiter in waiters { waiter.resume(returning: outcome) }
            return outcome
        }
    }

    /// Waits about as long as a bcrypt check takes, using no CPU: a
    /// refusal that needs no check (a client outside the allowed sources)
    /// then looks like any other.
    public func delayLikeACheck() async {
        let seconds = typical.withLock { $0 }
        try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    }

    private func bcrypt(_ secret: String, hash: String, lane: BcryptPool.Lane) async -> Outcome {
        let started = ContinuousClock.now
        runs.add(1, ordering: .relaxed)
        guard let matches = await pool.run(lane: lane, { Bcrypt.verify(secret, hash: hash) }) else { return .overloaded }
        let took = started.duration(to: .now)
        let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        typical.withLock { $0 = $0 * 0.9 + min(seconds, 2) * 0.1 }
        return matches ? .verified : .rejected
    }

    /// The dummy hash, made on first use at `dummyCost`; nil while the pool
    /// is too full to make it (never a cheaper one: its check would answer
    /// faster and tell unknown names apart).
    private func dummyHash(lane: BcryptPool.Lane) async -> String? {
        if let hash = dummy.withLock({ $0 }) { return hash }
        let cost = dummyCost
        guard let made = await pool.run(lane: lane, { Bcrypt.hash(SecretGenerator.password(), cost: cost) }) else { return nil }
        return dummy.withLock { current in
            if let current { return current }
            current = made
            return made
        }
    }

    private func cacheKey(user: String, secret: String) -> Data {
        var message = Data(user.utf8)
        message.append(0)
        message.append(contentsOf: secret.utf8)
        return Data(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }

    /// How many verified secrets are remembered; for tests and metrics.
    public var cachedCount: Int { cache.withLock { $0.entries.count } }

    /// Forgets every verified secret.
    public func clear() {
        cache.withLock { $0.entries.removeAll() }
    }
}

/// Runs bcrypt on threads of its own: at most `threads` at once, at most
/// `queue` more waiting in each lane; beyond that a call is refused at once
/// instead of queueing (the API answers 429). Nothing else runs there, so
/// bcrypt's CPU is bounded and no other work queues behind it.
///
/// Two lanes: a thread that comes free takes the oldest call of the
/// ``Lane/first`` lane before any of the ``Lane/second``, and each lane
/// has its own queue bound, so a full second lane (a flood of wrong
/// guesses) neither refuses nor delays a first-lane call beyond the runs
/// already going. ``SourceStanding`` says which lane a check belongs in.
public final class BcryptPool: Sendable {
    /// Which queue a call waits in.
    public enum Lane: Int, Sendable {
        /// Checks from sources in good standing.
        case first = 0
        /// Everything else: sources that failed lately, `/register` hashes.
        case second = 1
    }

    public let threads: Int
    public let queue: Int
    private let workers: [DispatchQueue]

    private struct State {
        /// Calls admitted and not finished (running or waiting), per lane.
        var admitted = [0, 0]
        /// Calls waiting for a thread, per lane, oldest first.
        var waiting: [[@Sendable () -> Void]] = [[], []]
        /// Calls handed to each worker and not finished.
        var load: [Int]
    }
    private let state: Mutex<State>
    private let inFlightGauge = Gauge(label: "cdnsd_api_bcrypt_in_flight")
    private let refused = Counter(label: "cdnsd_api_bcrypt_refused_total")

    public init(threads: Int = 1, queue: Int = 32) {
        self.threads = max(1, threads)
        self.queue = max(0, queue)
        workers = (0..<max(1, threads)).map { DispatchQueue(label: "cdnsd.bcrypt.\($0)", qos: .utility) }
        state = Mutex(State(load: Array(repeating: 0, count: max(1, threads))))
    }

    /// Calls admitted and not finished (running or waiting), both lanes.
    public var inFlight: Int { state.withLock { $0.admitted.reduce(0, +) } }

    /// Calls waiting for a thread, both lanes.
    public var queued: Int { state.withLock { $0.waiting.reduce(0) { $0 + $1.count } } }

    /// Runs `body` on a pool thread, after the calls waiting ahead of it in
    /// its lane and in the first lane; nil when its lane is full.
    public func run<T: Sendable>(lane: Lane = .second, _ body: @escaping @Sendable () -> T) async -> T? {
        let limit = threads + queue
        let admitted = state.withLock { state -> Bool in
            guard state.admitted[lane.rawValue] < limit else { return false }
            state.admitted[lane.rawValue] += 1
            return true
        }
        guard admitted else {
            refused.increment()
            return nil
        }
        inFlightGauge.record(inFlight)
        let result = await withCheckedContinuation { (done: CheckedContinuation<T, Never>) in
            // One turn on a worker per call admitted: the turn runs whichever
            // call is first in line when it starts, so a first-lane call
            // waits for no more than the runs already going.
            let worker: Int = state.withLock { state in
                state.waiting[lane.rawValue].append { done.resume(returning: body()) }
                let least = state.load.indices.min { state.load[$0] < state.load[$1] } ?? 0
                state.load[least] += 1
                return least
            }
            workers[worker].async { self.turn(worker) }
        }
        state.withLock { $0.admitted[lane.rawValue] -= 1 }
        inFlightGauge.record(inFlight)
        return result
    }

    /// One call's turn on `worker`. There are as many turns queued as calls
    /// waiting, so a turn always finds one.
    private func turn(_ worker: Int) {
        let next: (@Sendable () -> Void)? = state.withLock { state in
            if !state.waiting[0].isEmpty { return state.waiting[0].removeFirst() }
            if !state.waiting[1].isEmpty { return state.waiting[1].removeFirst() }
            return nil
        }
        next?()
        state.withLock { $0.load[worker] -= 1 }
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

    /// bcrypt of `secret` at `cost` on `pool`; nil when the pool is full.
    public static func hash(_ secret: String, cost: UInt8, on pool: BcryptPool) async -> String? {
        await pool.run { Bcrypt.hash(secret, cost: cost) }
    }
}
