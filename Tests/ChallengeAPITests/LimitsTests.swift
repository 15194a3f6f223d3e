import CDNSTestSupport
import ChallengeAPI
import DNSWire
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import ZoneStore
#if canImport(Glibc)
import Glibc
#endif

/// The API's limits: rate limits with 429 and Retry-After, the account
/// cap, bcrypt on a bounded pool shared by concurrent identical checks,
/// and per-connection deadlines and the connection cap.
@Suite("API limits", .blocking)
struct LimitsTests {
    /// The tests of connection deadlines pass their own `connections`; the
    /// others wait as long as a loaded full run may take to send a request.
    static func configuration(authFailures: Int = 30, registrations: Int = 30, maxAccounts: Int = 0,
                              connections: APIConnectionSettings = APITestHarness.patientConnections) -> ChallengeAPIConfiguration {
        ChallengeAPIConfiguration(
            accountDomain: "svc.test.", maxBodySize: 16 * 1024, challengeLifetime: 600, bcryptCost: 4, connections: connections,
            authFailuresPerMinute: authFailures, registrationsPerMinute: registrations, maxAccounts: maxAccounts)
    }

    @Test("a source's bucket empties, tells how long to wait, refills; IPv6 counts per /64")
    func bucket() {
        let limiter = SourceRateLimiter(perMinute: 3)
        let start = ContinuousClock.now
        let a = IPAddress("192.0.2.1")!
        for _ in 0..<3 { #expect(limiter.take(a, now: start) == nil) }
        #expect(limiter.take(a, now: start) == 20, "one token every 20 s")
        #expect(limiter.take(IPAddress("192.0.2.2")!, now: start) == nil, "another source has its own bucket")
        #expect(limiter.take(a, now: start + .seconds(21)) == nil)
        limiter.refund(a)
        #expect(limiter.take(a, now: start + .seconds(21)) == nil)
        let v6 = IPAddress("2001:db8::1")!
        for _ in 0..<3 { #expect(limiter.take(v6, now: start) == nil) }
        #expect(limiter.take(IPAddress("2001:db8::ffff:1")!, now: start) != nil, "same /64")
        #expect(limiter.take(IPAddress("2001:db8:0:1::1")!, now: start) == nil, "another /64")
        #expect(SourceRateLimiter(perMinute: 0).take(a) == nil, "0 turns the limit off")
    }

    @Test("eight concurrent checks of one secret run bcrypt once; an unknown user runs it too")
    func sharedCheck() async throws {
        let verifier = SecretVerifier(pool: BcryptPool(threads: 1, queue: 32), dummyCost: 4)
        let hash = try await SecretGenerator.hash("right", cost: 6)
        let outcomes = await withTaskGroup(of: SecretVerifier.Outcome.self) { group in
            for _ in 0..<8 { group.addTask { await verifier.check(user: "u", secret: "right", hash: hash) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes == Array(repeating: .verified, count: 8))
        #expect(verifier.checksRun == 1)
        #expect(verifier.isCached(user: "u", secret: "right", hash: hash))
        #expect(await verifier.check(user: "nobody", secret: "x", hash: nil) == .rejected)
        #expect(verifier.checksRun == 2, "an unknown user costs a check against the dummy hash")
    }

    @Test("a full bcrypt pool refuses at once")
    func fullPool() async throws {
        let pool = BcryptPool(threads: 1, queue: 0)
        let gate = DispatchSemaphore(value: 0)
        async let first: Int? = pool.run { gate.wait(); return 1 }
        while pool.inFlight == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await pool.run { 2 } == nil)
        gate.signal()
        #expect(await first == 1)
        #expect(await pool.run { 3 } == 3)
    }

    @Test("a first-lane call runs before second-lane calls that waited longer, and a full second lane does not refuse it")
    func firstLaneGoesFirst() async throws {
        let pool = BcryptPool(threads: 1, queue: 2)
        let gate = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let order = RunOrder()
        async let running: Int? = pool.run(lane: .second) { started.signal(); gate.wait(); return 0 }
        // Each step waits until the call before it runs or waits in its lane.
        while started.wait(timeout: .now()) != .success { try await Task.sleep(for: .milliseconds(5)) }
        async let second1: Int? = pool.run(lane: .second) { order.append("second 1"); return 1 }
        while pool.queued < 1 { try await Task.sleep(for: .milliseconds(5)) }
        async let second2: Int? = pool.run(lane: .second) { order.append("second 2"); return 2 }
        while pool.queued < 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await pool.run(lane: .second) { 9 } == nil, "the second lane holds threads + queue = 3")
        async let first: Int? = pool.run(lane: .first) { order.append("first"); return 3 }
        while pool.queued < 3 { try await Task.sleep(for: .milliseconds(5)) }
        gate.signal()
        let results = await [running, second1, second2, first]
        #expect(results == [0, 1, 2, 3])
        #expect(order.names == ["first", "second 1", "second 2"])
        #expect(pool.inFlight == 0)
    }

    @Test("a source is in the first lane once at a time, and not at all for a while after a failed check")
    func standing() {
        let standing = SourceStanding(window: .seconds(600))
        let start = ContinuousClock.now
        let a = IPAddress("192.0.2.1")!, b = IPAddress("192.0.2.2")!
        #expect(standing.lane(for: a, now: start) == .first)
        #expect(standing.lane(for: a, now: start) == .second, "its first-lane check is still running")
        #expect(standing.lane(for: b, now: start) == .first, "another source has its own slot")
        standing.finished(a, lane: .second, failed: false, now: start)
        #expect(standing.lane(for: a, now: start) == .second, "a second-lane check does not free the slot")
        standing.finished(a, lane: .first, failed: false, now: start)
        #expect(standing.lane(for: a, now: start) == .first, "a verified check frees it")
        standing.finished(a, lane: .first, failed: true, now: start)
        #expect(standing.hasFailed(a, now: start))
        #expect(standing.lane(for: a, now: start + .seconds(599)) == .second)
        #expect(standing.lane(for: IPAddress("2001:db8::1")!, now: start) == .first)
        standing.finished(IPAddress("2001:db8::1")!, lane: .first, failed: true, now: start)
        #expect(standing.lane(for: IPAddress("2001:db8::2")!, now: start) == .second, "IPv6 counts per /64")
        #expect(standing.lane(for: a, now: start + .seconds(601)) == .first, "the failure has aged out")
    }

    @Test("wrong passwords: 401 until the source's allowance is spent, then 429 with Retry-After; a cached secret still passes")
    func authFailureLimit() async throws {
        // One failure a minute: the allowance refills after 60 s, so a slow (loaded) run does not refill it mid-test.
        let harness = try await APITestHarness(configuration: Self.configuration(authFailures: 1))
        try await harness.run { client in
            let account = try await client.register()
            #expect(try await client.update(account, txt: challengeValue("a")).status == .ok)
            var wrong = account
            wrong.password = "not-the-password"
            #expect(try await client.update(wrong, txt: challengeValue("b")).status == .unauthorized)
            let limited = try await client.update(wrong, txt: challengeValue("b"))
            #expect(limited.status == .tooManyRequests)
            #expect(limited.errorCode == "rate_limited")
            #expect(limited.headers[.retryAfter].flatMap(Int.init).map { $0 >= 1 } == true)
            #expect(limited.headers[.contentType] == "application/json")
            var unknown = account
            unknown.username = "no-such-user"
            #expect(try await client.update(unknown, txt: challengeValue("b")).status == .tooManyRequests, "unknown users count alike")
            #expect(try await client.update(account, txt: challengeValue("c")).status == .ok, "the cached secret needs no allowance")
        }
    }

    @Test("max_values_per_name: httpreq /present past it is 409 too_many_values; acme-dns /update evicts the oldest value")
    func valuesPerName() async throws {
        let harness = try await APITestHarness(configuration: Self.configuration(), challenge: ChallengeSettings(maxValuesPerName: 2))
        try await harness.addCredential("team", secret: "s3cret", allow: ["*.team.svc.test"])
        try await harness.run { client in
            func present(_ seed: Character) async throws -> TestResponse {
                try await client.httpreq("/present", user: "team", secret: "s3cret",
                                         json: "{\"fqdn\":\"_acme-challenge.team.svc.test.\",\"value\":\"\(challengeValue(seed))\"}")
            }
            #expect(try await present("a").status == .ok)
            #expect(try await present("b").status == .ok)
            let refused = try await present("c")
            #expect(refused.status == .conflict)
            #expect(refused.errorCode == "too_many_values")
            #expect(Set(try await harness.servedTXT("_acme-challenge.team.svc.test.")) == [challengeValue("a"), challengeValue("b")])
            let account = try await client.register()
            for seed in ["d", "e", "f"] as [Character] {
                #expect(try await client.update(account, txt: challengeValue(seed)).status == .ok)
            }
            let served = try await harness.servedTXT(account.fulldomain + ".")
            // The oldest goes first (ties within a second by value: d before e before f); f, the newest, stays.
            #expect(served.count == 2 && served.contains(challengeValue("f")), "\(served)")
        }
    }

    @Test("/register: per-source limit → 429, account cap → 403 account_limit")
    func registerLimits() async throws {
        // One registration a minute: no refill within even a loaded run.
        let limited = try await APITestHarness(configuration: Self.configuration(registrations: 1))
        try await limited.run { client in
            #expect(try await client.post("/register", json: "{}").status == .created)
            let refused = try await client.post("/register", json: "{}")
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] != nil)
        }
        let capped = try await APITestHarness(configuration: Self.configuration(maxAccounts: 1))
        try await capped.run { client in
            #expect(try await client.post("/register", json: "{}").status == .created)
            let refused = try await client.post("/register", json: "{}")
            #expect(refused.status == .forbidden)
            #expect(refused.errorCode == "account_limit")
        }
    }

    @Test("a client outside allowfrom is refused without a bcrypt check")
    func sourceBeforeBcrypt() async throws {
        let harness = try await APITestHarness(configuration: Self.configuration())
        try await harness.run { client in
            let account = try await client.register(allowFrom: ["10.0.0.0/8"])
            let before = harness.api.verifier.checksRun
            #expect(try await client.update(account, txt: challengeValue("a")).status == .unauthorized)
            #expect(harness.api.verifier.checksRun == before)
        }
    }

    @Test("a request head sent a byte at a time is cut at header_timeout; idle connections are closed at idle_timeout")
    func slowHeadAndIdle() async throws {
        let settings = APIConnectionSettings(maxConnections: 64, headerTimeout: .seconds(1), bodyTimeout: .seconds(1), idleTimeout: .seconds(1))
        let harness = try await APITestHarness(configuration: Self.configuration(connections: settings))
        try await harness.run { client in
            let port = try #require(client.port)
            let slow = try RawConnection(port: port)
            // One byte every 400 ms of a head that never ends (a header line after another),
            // for up to 60 s: the 1 s header timeout cuts it long before. The bound is
            // generous because the clock starts when the server accepts the connection, and in
            // loaded full runs the close has come 6.6 s, and once more than 13 s, after connect.
            let head = Array("GET /health HTTP/1.1\r\nHost: x\r\n".utf8)
            let header = Array("X-Trickle: y\r\n".utf8)
            let giveUp = ContinuousClock.now + .seconds(60)
            var closed = false
            var sent = 0
            while !closed, ContinuousClock.now < giveUp {
                let byte = sent < head.count ? head[sent] : header[(sent - head.count) % header.count]
                sent += 1
                closed = !slow.send([byte]) || slow.closed(within: .milliseconds(400))
            }
            #expect(closed, "the connection was still open after 60 s of trickling a request head")
            let idle = try RawConnection(port: port)
            #expect(idle.closed(within: .seconds(15)))
            let fresh = try RawConnection(port: port)
            #expect(fresh.send(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
            #expect(fresh.reply(timeout: .seconds(20)).hasPrefix("HTTP/1.1 200"), "a new connection is served")
        }
    }

    @Test("with every slot held by idle connections, a newcomer is served and the longest-waiting one is closed")
    func evictsLongestWaiting() async throws {
        let settings = APIConnectionSettings(maxConnections: 4, headerTimeout: .seconds(30), bodyTimeout: .seconds(30), idleTimeout: .seconds(30))
        let harness = try await APITestHarness(configuration: Self.configuration(connections: settings))
        try await harness.run { client in
            let port = try #require(client.port)
            // The test client holds a connection of its own: three more fill the table.
            // Each is answered once before the next connects, so that they have waited
            // for their next request in this order however late the server admitted
            // them (under load, accepts spread over event loops can be set up out of order).
            var held: [RawConnection] = []
            for _ in 0..<3 {
                let connection = try RawConnection(port: port)
                #expect(connection.send(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
                let reply = connection.reply(timeout: .seconds(20))
                #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply)")
                held.append(connection)
                try await Task.sleep(for: .milliseconds(100))
            }
            // Two newcomers (the test client may hold a connection of its own, the oldest).
            var fresh: [RawConnection] = []
            for _ in 0..<2 {
                let connection = try RawConnection(port: port)
                #expect(connection.send(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
                let reply = connection.reply(timeout: .seconds(20))
                #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply)")
                fresh.append(connection)
            }
            #expect(held[0].closed(within: .seconds(10)), "the longest-waiting connection made room")
            #expect(!held[2].closed(within: .milliseconds(200)), "the newest one stays")
        }
    }
}

/// The order in which pool calls ran.
final class RunOrder: Sendable {
    private let entries = Mutex<[String]>([])
    func append(_ name: String) { entries.withLock { $0.append(name) } }
    var names: [String] { entries.withLock { $0 } }
}

/// A blocking TCP client on loopback for trickling bytes.
final class RawConnection: @unchecked Sendable {  // one test uses each, one call at a time
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Whether the server closed the connection (EOF or reset) within
    /// `timeout`; bytes that arrive first (the rest of a reply, an error
    /// response) are read and dropped. It blocks: the suite runs `.blocking`.
    func closed(within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return false }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            let ready = poll(&poller, 1, max(1, milliseconds))
            if ready < 0 && errno == EINTR { continue }  // a signal (a child process of another test ended)
            guard ready > 0 else { return false }
            if recv(fd, &buffer, buffer.count, 0) <= 0 { return true }
        }
    }

    /// What arrives within `timeout`, as text. It blocks: the suite runs `.blocking`.
    func reply(timeout: Duration) -> String {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000)
        guard poll(&poller, 1, milliseconds) > 0 else { return "" }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
    }
}
