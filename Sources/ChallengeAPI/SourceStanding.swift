import Synchronization
import ZoneStore

/// Which client sources failed to authenticate lately, so that the bcrypt
/// check of a source in good standing runs ahead of a flood's.
///
/// A source (an IPv4 address, an IPv6 /64, as ``SourceRateLimiter`` counts
/// them) is in good standing when none of its checks failed in the last
/// `window` and none of its checks holds the first lane now: a source gets
/// one check at a time in the first lane, so 64 connections opened at once
/// by an attacker that never failed before take one slot there, not 64.
/// A legitimate client whose secret is not yet cached (a fresh daemon, a
/// new credential) then waits for at most the bcrypt runs already going,
/// whatever is queued behind them.
///
/// The table is bounded: beyond `maxSources`, failures older than the
/// window are dropped, and if that is not enough, the oldest half.
public final class SourceStanding: Sendable {
    /// How long a failed check counts against its source.
    public let window: Duration
    public let maxSources: Int

    private struct State {
        var failed: [IPAddress: ContinuousClock.Instant] = [:]
        var firstLane: Set<IPAddress> = []
    }
    private let state = Mutex(State())

    public init(window: Duration = .seconds(600), maxSources: Int = 100_000) {
        self.window = window
        self.maxSources = max(16, maxSources)
    }

    /// The lane for a check from `address` now. A ``BcryptPool/Lane/first``
    /// answer holds the source's first-lane slot until ``finished(_:lane:failed:)``.
    public func lane(for address: IPAddress, now: ContinuousClock.Instant = .now) -> BcryptPool.Lane {
        let source = SourceRateLimiter.source(address)
        return state.withLock { state in
            if let failed = state.failed[source], failed.duration(to: now) < window { return .second }
            return state.firstLane.insert(source).inserted ? .first : .second
        }
    }

    /// Records how a check that `lane(for:)` placed in `lane` ended.
    public func finished(_ address: IPAddress, lane: BcryptPool.Lane, failed: Bool, now: ContinuousClock.Instant = .now) {
        let source = SourceRateLimiter.source(address)
        state.withLock { state in
            if lane == .first { state.firstLane.remove(source) }
            guard failed else { return }
            if state.failed[source] == nil, state.failed.count >= maxSources { trim(&state.failed, now: now) }
            state.failed[source] = now
        }
    }

    /// Whether `address` failed a check within the window; for tests.
    public func hasFailed(_ address: IPAddress, now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { state in
            state.failed[SourceRateLimiter.source(address)].map { $0.duration(to: now) < window } ?? false
        }
    }

    private func trim(_ failed: inout [IPAddress: ContinuousClock.Instant], now: ContinuousClock.Instant) {
        failed = failed.filter { $0.value.duration(to: now) < window }
        if failed.count >= maxSources {
            let oldest = failed.sorted { $0.value < $1.value }.prefix(failed.count / 2).map(\.key)
            for key in oldest { failed[key] = nil }
        }
    }
}
