#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The time challenge expiry goes by: the wall clock, but never ahead of
/// where the monotonic clock says it should be since the process started.
/// A wall clock stepped forward (a VM resumed, NTP correcting a clock that
/// was far behind) does not expire every live challenge at once, and a
/// clock stepped back only makes challenges live longer. Expiry times are
/// wall-clock seconds in the store, so restarts keep them.
public struct ExpiryClock: Sendable {
    private let wall: @Sendable () -> Int64
    private let wallAtStart: Int64
    private let started: ContinuousClock.Instant

    /// - Parameter wall: unix seconds now; the system clock by default.
    public init(wall: @escaping @Sendable () -> Int64 = ExpiryClock.systemSeconds) {
        self.wall = wall
        wallAtStart = wall()
        started = .now
    }

    /// Unix seconds of the system clock.
    @Sendable public static func systemSeconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec)
    }

    /// The time to expire by, and how far the wall clock has moved from
    /// the monotonic clock since start (positive: stepped forward).
    public func now(at instant: ContinuousClock.Instant = .now) -> (seconds: Int64, jump: Int64) {
        let actual = wall()
        let expected = wallAtStart + started.duration(to: instant).components.seconds
        return (min(actual, expected), actual - expected)
    }
}
