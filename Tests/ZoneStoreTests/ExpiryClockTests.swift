import Synchronization
import Testing
import ZoneStore

@Suite("Challenge expiry across clock jumps")
struct ExpiryClockTests {
    final class Wall: Sendable {
        let seconds = Mutex<Int64>(1_000_000)
    }

    @Test("a forward jump expires nothing early; a backward jump only delays expiry")
    func jumps() async throws {
        let wall = Wall()
        let clock = ExpiryClock(wall: { wall.seconds.withLock { $0 } })
        let start = ContinuousClock.now
        #expect(clock.now(at: start).seconds == 1_000_000)
        wall.seconds.withLock { $0 += 7200 }
        let forward = clock.now(at: start)
        #expect(forward.seconds <= 1_000_001, "two hours ahead on the wall clock, not on the monotonic one")
        #expect(forward.jump >= 7199)
        wall.seconds.withLock { $0 = 1_000_000 - 3600 }
        let back = clock.now(at: start)
        #expect(back.seconds == 1_000_000 - 3600)
        #expect(back.jump <= -3599)

        // In a store: a challenge due in an hour survives a forward step of two hours.
        let store = try await ZoneRecordStore(zones: [ZoneConfiguration(origin: "svc.test.", nameservers: ["ns.svc.test."], admin: "admin.svc.test.")])
        try await store.addChallenge(ChallengeRecord(name: "_acme-challenge.a.svc.test.", value: String(repeating: "a", count: 43), owner: "t",
                                                     createdAt: 1_000_000, expiresAt: 1_003_600))
        wall.seconds.withLock { $0 = 1_007_200 }
        #expect(try await store.removeExpiredChallenges(now: clock.now(at: start).seconds) == 0)
        #expect(store.challenges().count == 1)
        #expect(try await store.removeExpiredChallenges(now: clock.now(at: start + .seconds(3601)).seconds) == 1)
    }
}
