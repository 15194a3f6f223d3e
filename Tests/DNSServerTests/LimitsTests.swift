@testable import DNSServer
import CDNSTestSupport
import DNSWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOEmbedded
import Testing
import ZoneStore

/// Response rate limiting: decisions, classes, prefixes, slip and the
/// truncated answer, without sockets.
@Suite("Response rate limiting")
struct ResponseRateLimiterTests {
    /// The hash is seeded at random per process and buckets are shared on a
    /// collision (as in Knot); a table of 2^20 makes two prefixes of one test
    /// collide about once in a million runs, not once in a thousand.
    static func limiter(rate: Int = 5, slip: Int = 2, exempt: [IPNetwork] = []) -> ResponseRateLimiter {
        ResponseRateLimiter(.init(rate: rate, slip: slip, tableSize: 1 << 20, exempt: exempt))
    }

    static func v4(_ text: String) -> UInt32 { IPv4Address(text)?.rawValue ?? 0 }

    @Test("rate answers per second per prefix and class, then every slip-th truncated, the others dropped")
    func rateAndSlip() {
        let limiter = Self.limiter(rate: 5, slip: 2)
        let second: [ResponseRateLimiter.Decision] = (0..<11).map { _ in limiter.decide(ipv4: Self.v4("192.0.2.1"), class: .answer, now: 100) }
        #expect(second == [.send, .send, .send, .send, .send, .drop, .slip, .drop, .slip, .drop, .slip])
        // Another host of the same /24 shares the budget; another /24 and another class do not.
        #expect(limiter.decide(ipv4: Self.v4("192.0.2.200"), class: .answer, now: 100) != .send)
        #expect(limiter.decide(ipv4: Self.v4("192.0.3.1"), class: .answer, now: 100) == .send)
        #expect(limiter.decide(ipv4: Self.v4("192.0.2.1"), class: .nxdomain, now: 100) == .send)
        // The next second refills the bucket, never above the rate.
        let next = (0..<6).map { _ in limiter.decide(ipv4: Self.v4("192.0.2.1"), class: .answer, now: 101) }
        #expect(next.filter { $0 == .send }.count == 5)
        let later = (0..<7).map { _ in limiter.decide(ipv4: Self.v4("192.0.2.1"), class: .answer, now: 200) }
        #expect(later.filter { $0 == .send }.count == 5, "a long pause does not bank more than one second's worth")
    }

    @Test func slipZeroDropsAllAndOneTruncatesAll() {
        let dropping = Self.limiter(rate: 1, slip: 0)
        #expect((0..<5).map { _ in dropping.decide(ipv4: 1, class: .error, now: 5) } == [.send, .drop, .drop, .drop, .drop])
        let slipping = Self.limiter(rate: 1, slip: 1)
        #expect((0..<4).map { _ in slipping.decide(ipv4: 1, class: .error, now: 5) } == [.send, .slip, .slip, .slip])
    }

    @Test func rateZeroIsOffAndExemptSourcesAreNeverLimited() {
        let off = ResponseRateLimiter(.off)
        #expect(!off.isEnabled)
        #expect((0..<1000).allSatisfy { _ in off.decide(ipv4: 7, class: .answer, now: 1) == .send })
        let limiter = Self.limiter(rate: 1, exempt: ResponseRateLimiter.Configuration.defaultExempt + [IPNetwork("10.0.0.0/8")].compactMap { $0 })
        #expect((0..<100).allSatisfy { _ in limiter.decide(ipv4: Self.v4("127.0.0.1"), class: .answer, now: 1) == .send })
        #expect((0..<100).allSatisfy { _ in limiter.decide(ipv4: Self.v4("10.9.8.7"), class: .answer, now: 1) == .send })
        #expect((0..<100).allSatisfy { _ in limiter.decide(ipv6High: 0, low: 1, class: .answer, now: 1) == .send }, "::1")
        #expect((0..<3).map { _ in limiter.decide(ipv4: Self.v4("192.0.2.1"), class: .answer, now: 1) }.filter { $0 == .send }.count == 1)
    }

    @Test("IPv6 sources group by /56; IPv4-mapped ones count as their IPv4 address")
    func ipv6Prefixes() {
        let limiter = Self.limiter(rate: 2)
        let a = IPv6Address("2001:db8:0:1200::1")!, b = IPv6Address("2001:db8:0:12ff:ffff::9")!, c = IPv6Address("2001:db8:0:1300::1")!
        #expect(limiter.decide(ipv6High: a.high, low: a.low, class: .answer, now: 9) == .send)
        #expect(limiter.decide(ipv6High: b.high, low: b.low, class: .answer, now: 9) == .send)
        #expect(limiter.decide(ipv6High: a.high, low: a.low, class: .answer, now: 9) != .send, "same /56")
        #expect(limiter.decide(ipv6High: c.high, low: c.low, class: .answer, now: 9) == .send, "next /56")
        let mapped = IPv6Address("::ffff:192.0.2.1")!
        #expect(limiter.decide(ipv4: Self.v4("192.0.2.1"), class: .nodata, now: 9) == .send)
        #expect(limiter.decide(ipv6High: mapped.high, low: mapped.low, class: .nodata, now: 9) == .send)
        #expect(limiter.decide(ipv4: Self.v4("192.0.2.9"), class: .nodata, now: 9) != .send)
    }

    @Test("a caller whose clock reads the previous second does not refill the bucket")
    func staleClockDoesNotRefill() {
        let limiter = Self.limiter(rate: 3, slip: 0)
        let source = Self.v4("192.0.2.1")
        let first = (0..<3).map { _ in limiter.decide(ipv4: source, class: .answer, now: 50) }
        #expect(first == [.send, .send, .send])
        // Calls alternating between 51 and 50: second 51 refills once to 3, the stale 50s take from it.
        let decisions = first + (0..<12).map { i in limiter.decide(ipv4: source, class: .answer, now: i % 2 == 0 ? 51 : 50) }
        #expect(decisions.filter { $0 == .send }.count == 6, "\(decisions)")
        #expect(limiter.decide(ipv4: source, class: .answer, now: 50) == .drop)
        #expect(limiter.decide(ipv4: source, class: .answer, now: 52) == .send)
    }

    @Test("threads sharing a bucket together get exactly the rate")
    func concurrentCallersShareTheRate() async {
        let limiter = Self.limiter(rate: 1000, slip: 0)
        let sent = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var count = 0
                    for _ in 0..<20_000 where limiter.decide(ipv4: 0x0A00_0001, class: .answer, now: 42) == .send { count += 1 }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(sent == 1000)
    }

    static func response(_ rcode: ResponseCode, answers: Int = 0, authoritative: Bool = true) throws -> [UInt8] {
        var flags: DNSHeader.Flags = [.response]
        if authoritative { flags.insert(.authoritative) }
        let records = (0..<answers).map { ResourceRecord(name: "www.svc.test.", ttl: 60, data: .txt(TXT(text: "v\($0)"))) }
        return try DNSMessage(header: DNSHeader(id: 7, flags: flags, rcode: rcode), questions: [Question(name: "www.svc.test.", type: .txt)],
                              answers: records, edns: EDNS()).encode()
    }

    @Test func classifiesByHeader() throws {
        func classify(_ bytes: [UInt8]) -> ResponseRateLimiter.ResponseClass { bytes.withUnsafeBytes { ResponseRateLimiter.classify($0) } }
        #expect(classify(try Self.response(.noError, answers: 2)) == .answer)
        #expect(classify(try Self.response(.noError)) == .nodata)
        #expect(classify(try Self.response(.noError, authoritative: false)) == .referral)
        #expect(classify(try Self.response(.nxDomain)) == .nxdomain)
        #expect(classify(try Self.response(.refused)) == .error)
        #expect(classify([1, 2, 3]) == .error)
    }

    @Test("a slipped response is the header with TC and the question, nothing else")
    func truncation() throws {
        var bytes = try Self.response(.noError, answers: 20)
        let length = bytes.withUnsafeMutableBytes { ResponseRateLimiter.truncate($0, length: $0.count) }
        let message = try DNSMessage(decoding: Array(bytes[0..<length]))
        #expect(message.header.flags.contains(.truncated) && message.header.id == 7)
        #expect(message.questions == [Question(name: "www.svc.test.", type: .txt)])
        #expect(message.answers.isEmpty && message.authority.isEmpty && message.additional.isEmpty && message.edns == nil)
        #expect(length == 12 + 14 + 4)
        var garbage: [UInt8] = [0, 7, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 1, 2]
        let cut = garbage.withUnsafeMutableBytes { ResponseRateLimiter.truncate($0, length: $0.count) }
        #expect(cut == 12 && garbage[5] == 0, "a question that runs off the end is left out")
    }

    @Test("the raw-sockaddr hook decides by the peer as recvmmsg gives it, and truncates or drops in place")
    func rawPeerHook() throws {
        let limiter = Self.limiter(rate: 1, slip: 2)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = Self.v4("192.0.2.33").bigEndian
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: IPv6Address("2001:db8::1")!.bytes) }
        var response = try Self.response(.noError, answers: 3)
        let full = response.count
        func admit(_ peer: UnsafeRawBufferPointer) -> (Int, ResponseRateLimiter.Decision) {
            var decision = ResponseRateLimiter.Decision.send
            let length = response.withUnsafeMutableBytes { limiter.admit($0, length: full, peer: peer, now: 3, decision: &decision) }
            return (length, decision)
        }
        #expect(withUnsafeBytes(of: &sin) { admit($0) } == (full, .send))
        #expect(withUnsafeBytes(of: &sin) { admit($0) } == (0, .drop))
        let (slipped, decision) = withUnsafeBytes(of: &sin) { admit($0) }
        #expect(decision == .slip && slipped == 12 + 14 + 4)
        #expect(try DNSMessage(decoding: Array(response[0..<slipped])).header.flags.contains(.truncated))
        response = try Self.response(.noError, answers: 3)
        #expect(withUnsafeBytes(of: &sin6) { admit($0) } == (full, .send), "its own prefix")
        #expect(withUnsafeBytes(of: &sin6) { admit($0) }.1 != .send)
    }

    @Test("the UDP handler drops and slips over the rate, per source")
    func udpHandlerHook() async throws {
        let snapshot = try await ChannelHandlerTests.snapshot()
        let channel = EmbeddedChannel()
        let cache = SnapshotCache(eventLoop: channel.eventLoop, snapshot: snapshot)
        try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(responder: QueryResponder(), cache: cache, rateLimiter: Self.limiter(rate: 3, slip: 2)))
        let victim = try SocketAddress(ipAddress: "192.0.2.10", port: 53000)
        let other = try SocketAddress(ipAddress: "198.51.100.1", port: 53000)
        let query = try ChannelHandlerTests.query(id: 5, "www.svc.test.")
        for _ in 0..<10 { try channel.writeInbound(AddressedEnvelope(remoteAddress: victim, data: channel.allocator.buffer(bytes: query))) }
        try channel.writeInbound(AddressedEnvelope(remoteAddress: other, data: channel.allocator.buffer(bytes: query)))
        var full = 0, truncated = 0, toOther = 0
        while let reply = try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) {
            let message = try DNSMessage(decoding: Array(reply.data.readableBytesView))
            if reply.remoteAddress == other { toOther += 1; continue }
            if message.header.flags.contains(.truncated) {
                truncated += 1
                #expect(message.answers.isEmpty)
            } else {
                full += 1
                #expect(message.answers.count == 1)
            }
        }
        // The test may straddle a second boundary: then the bucket refills once.
        #expect(full == 3 || full == 6, "\(full)")
        #expect(truncated >= 2 && full + truncated <= 10, "\(truncated)")
        #expect(toOther == 1)
        _ = try? channel.finish()
    }
}

/// DNS over TCP within its limits: back-pressure, timeouts and the
/// connection table, on `EmbeddedChannel`s with virtual time.
@Suite("TCP limits", .blocking)
struct TCPLimitsTests {
    /// Holds writes back as a socket whose peer does not read would: their
    /// promises complete only when released.
    final class StallingWriter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        var held: [(ByteBuffer, EventLoopPromise<Void>?)] = []
        var written: [ByteBuffer] = []
        var reads = 0
        var stalled = true

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let buffer = unwrapOutboundIn(data)
            if stalled {
                held.append((buffer, promise))
            } else {
                written.append(buffer)
                promise?.succeed(())
            }
        }

        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }

        func release() {
            stalled = false
            let pending = held
            held = []
            for (buffer, promise) in pending {
                written.append(buffer)
                promise?.succeed(())
            }
        }
    }

    static func frames(_ count: Int, from first: UInt16 = 1) throws -> [UInt8] {
        var stream: [UInt8] = []
        for id in first..<(first + UInt16(count)) {
            let message = try ChannelHandlerTests.query(id: id, "www.svc.test.")
            stream += [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
        }
        return stream
    }

    /// Made after every await: an `EmbeddedChannel` is used on the thread that made it.
    static func channel(_ snapshot: ZoneSnapshot, limits: TCPLimits, writer: StallingWriter? = nil) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let cache = SnapshotCache(eventLoop: channel.eventLoop, snapshot: snapshot)
        if let writer { try channel.pipeline.syncOperations.addHandler(writer) }
        try channel.pipeline.syncOperations.addHandler(TCPQueryHandler(responder: QueryResponder(), cache: cache, limits: limits))
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 5353)).wait()
        return channel
    }

    static func ids(_ buffers: [ByteBuffer]) throws -> [UInt16] {
        try buffers.map { buffer in
            var frame = buffer
            let prefix = frame.readInteger(as: UInt16.self)
            let length = try #require(prefix)
            #expect(Int(length) == frame.readableBytes)
            return try DNSMessage(decoding: Array(frame.readableBytesView)).header.id
        }
    }

    @Test("a client that does not read gets at most max replies in flight, and reading resumes when it reads")
    func backPressure() async throws {
        let writer = StallingWriter()
        let channel = try Self.channel(try await ChannelHandlerTests.snapshot(), limits: TCPLimits(maxRepliesInFlight: 3), writer: writer)
        try channel.writeInbound(channel.allocator.buffer(bytes: try Self.frames(10)))
        #expect(writer.held.count == 3, "three replies, then the handler waits")
        let readsBefore = writer.reads
        channel.read()
        #expect(writer.reads == readsBefore, "no more reading while the client is not reading")
        writer.release()
        // Released replies free their slots; the held-back queries are answered.
        var rounds = 0
        while !writer.held.isEmpty || writer.written.count < 10, rounds < 20 {
            writer.release()
            rounds += 1
        }
        #expect(try Self.ids(writer.written) == Array(1...10))
        channel.read()
        #expect(writer.reads > readsBefore, "reading again once everything is taken")
        _ = try? channel.finish()
    }

    @Test("a socket whose send buffer is full stops the handler until it drains")
    func writability() async throws {
        let channel = try Self.channel(try await ChannelHandlerTests.snapshot(), limits: TCPLimits())
        channel.isWritable = false
        try channel.writeInbound(channel.allocator.buffer(bytes: try Self.frames(4)))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        var replies: [ByteBuffer] = []
        while let reply = try channel.readOutbound(as: ByteBuffer.self) { replies.append(reply) }
        #expect(try Self.ids(replies) == [1, 2, 3, 4])
        _ = try? channel.finish()
    }

    @Test("idle: closed after the idle timeout with no complete query; each query restarts it")
    func idleTimeout() async throws {
        let channel = try Self.channel(try await ChannelHandlerTests.snapshot(), limits: TCPLimits(idleTimeout: .seconds(10)))
        channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        try channel.writeInbound(channel.allocator.buffer(bytes: try Self.frames(1)))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive, "9 s after the query")
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive, "11 s after the query")
    }

    @Test("a byte a second is dropped after the message timeout, long before the idle timeout")
    func slowloris() async throws {
        let channel = try Self.channel(try await ChannelHandlerTests.snapshot(), limits: TCPLimits(idleTimeout: .seconds(10), messageTimeout: .seconds(2)))
        let stream = try Self.frames(1)
        try channel.writeInbound(channel.allocator.buffer(bytes: stream[0...0]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        try channel.writeInbound(channel.allocator.buffer(bytes: stream[1...1]))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        #expect(channel.isActive, "1.9 s into the message")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive, "a message begun 2.1 s ago and still not whole")
    }

    @Test("a steady trickle of whole messages still ends at the lifetime")
    func lifetime() async throws {
        let channel = try Self.channel(try await ChannelHandlerTests.snapshot(), limits: TCPLimits(idleTimeout: .seconds(10), lifetime: .seconds(30)))
        for second in stride(from: 0, to: 29, by: 5) {
            try channel.writeInbound(channel.allocator.buffer(bytes: try Self.frames(1, from: UInt16(second + 1))))
            channel.embeddedEventLoop.advanceTime(by: .seconds(5))
            #expect(channel.isActive || second >= 25)
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    static func peer(_ address: String) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: address, port: 53)).wait()
        channel.remoteAddress = try SocketAddress(ipAddress: address, port: 40000)
        return channel
    }

    @Test("a full table closes its longest-idle connection to admit a new one")
    func evictsLongestIdle() throws {
        let table = TCPConnectionTable(limits: TCPLimits(maxConnections: 3, maxConnectionsPerPrefix: 3))
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let peers = try ["192.0.2.1", "198.51.100.1", "203.0.113.1"].map(Self.peer)
        let slots = peers.enumerated().map { table.admit($1, now: start + .seconds(Int64($0))) }
        slots[0].touch(start + .seconds(10))  // the oldest connection just asked something
        let newcomer = try Self.peer("192.0.2.77")
        _ = table.admit(newcomer, now: start + .seconds(11))
        #expect(table.count == 3)
        #expect(peers[0].isActive && !peers[1].isActive && peers[2].isActive, "the longest idle (the second) was closed")
        table.remove(slots[1])
        #expect(table.count == 3, "removing an evicted slot again changes nothing")
    }

    @Test("one /24 holds at most its share; its own longest-idle connection makes room")
    func perPrefixCap() throws {
        let table = TCPConnectionTable(limits: TCPLimits(maxConnections: 100, maxConnectionsPerPrefix: 2))
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let outsider = try Self.peer("10.0.1.1")
        _ = table.admit(outsider, now: start)
        let flood = try (1...5).map { try Self.peer("10.0.0.\($0)") }
        for (index, peer) in flood.enumerated() { _ = table.admit(peer, now: start + .seconds(Int64(index + 1))) }
        #expect(table.count == 3)
        #expect(flood.map(\.isActive) == [false, false, false, true, true])
        #expect(outsider.isActive, "the other /24 keeps its connection")
    }
}
