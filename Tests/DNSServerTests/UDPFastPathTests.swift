#if os(Linux)
@testable import DNSServer
import DNSWire
import Glibc
import Logging
import NIOCore
import Testing
import ZoneStore

/// The UDP fast path: cached answers must be the general path's answers
/// byte for byte, a write must be answered at once by every thread, and a
/// stopped listener must leave its port.
@Suite("UDP fast path")
struct UDPFastPathTests {
    static let zone = ZoneConfiguration(
        origin: "svc.test.", nameservers: ["ns1.svc.test."], admin: "admin.svc.test.", ttl: 3600, negativeTTL: 60,
        records: [
            "ns1.svc.test. 300 A 127.0.0.1",
            "www.svc.test. 300 A 10.8.10.1",
            "www.svc.test. 300 AAAA 2001:db8::1",
            "*.apps.svc.test. 300 A 10.8.10.252",
            "alias.svc.test. 300 CNAME www.svc.test.",
            "sub.svc.test. 300 NS ns.sub.svc.test.",
            "ns.sub.svc.test. 300 A 10.9.0.1",
            "_acme-challenge.www.svc.test. 60 TXT \"token-abcdefghijklmnopqrstuvwxyz\"",
            "big.svc.test. 300 TXT \"\(String(repeating: "a", count: 250))\"",
            "big.svc.test. 300 TXT \"\(String(repeating: "b", count: 250))\"",
            "big.svc.test. 300 TXT \"\(String(repeating: "c", count: 250))\"",
        ].map { try! ResourceRecord(presentation: $0) })

    static func message(_ name: DNSName, _ type: RRType, id: UInt16 = 0x1234, flags: DNSHeader.Flags = [], edns: EDNS? = nil) throws -> [UInt8] {
        try DNSMessage(header: DNSHeader(id: id, flags: flags), questions: [Question(name: name, type: type)], edns: edns).encode()
    }

    /// The general path's reply, for comparison.
    static func reference(_ query: [UInt8], snapshot: ZoneSnapshot) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: 0xFFFF)
        let length = query.withUnsafeBytes { raw in
            output.withUnsafeMutableBytes { QueryResponder().respond(to: raw, snapshot: snapshot, transport: .udp, into: $0) }
        }
        return length.map { Array(output[..<$0]) }
    }

    static func fast(_ query: [UInt8], answerer: inout UDPAnswerer) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: 1232)
        let length = query.withUnsafeBytes { raw in
            output.withUnsafeMutableBytes { answerer.answer(raw, into: $0, peer: UnsafeRawBufferPointer(start: nil, count: 0)) }
        }
        return length > 0 ? Array(output[..<length]) : nil
    }

    @Test("cached answers equal the general path's, whatever the ID, flags and case of the question")
    func cachedAnswersAreExact() async throws {
        let snapshot = (try await ZoneRecordStore(zones: [Self.zone])).snapshot()
        var answerer = UDPAnswerer(snapshot: snapshot, responder: QueryResponder())
        let cookie = EDNS(udpPayloadSize: 1232, options: [EDNSOption(code: EDNSOption.cookie, data: [1, 2, 3, 4, 5, 6, 7, 8])])
        let ednsVariants: [EDNS?] = [nil, EDNS(udpPayloadSize: 1232), EDNS(udpPayloadSize: 4096, dnssecOK: true), EDNS(udpPayloadSize: 600), EDNS(udpPayloadSize: 100), cookie]
        let questions: [(DNSName, RRType)] = [
            ("www.svc.test.", .a), ("www.svc.test.", .aaaa), ("www.svc.test.", .any), ("www.svc.test.", .mx),
            ("x1.apps.svc.test.", .a), ("deep.x2.apps.svc.test.", .a), ("alias.svc.test.", .a), ("host.sub.svc.test.", .a),
            ("_acme-challenge.www.svc.test.", .txt), ("missing.svc.test.", .a), ("svc.test.", .soa), ("svc.test.", .ns),
            ("big.svc.test.", .txt), ("nope.example.", .a), ("svc.test.", .axfr),
        ]
        var cacheable = 0
        for (name, type) in questions {
            for edns in ednsVariants {
                // First as asked, then from the cache with other IDs, flags and spellings.
                let spellings = [name.description, name.description.uppercased(), String(name.description.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.uppercased()) : $0.element })]
                for (round, spelling) in spellings.enumerated() {
                    for flags: DNSHeader.Flags in [[], [.recursionDesired], [.recursionDesired, .checkingDisabled], [.checkingDisabled, .authenticData]] {
                        let query = try Self.message(try DNSName(spelling), type, id: UInt16(truncatingIfNeeded: 0x100 * round + Int(flags.rawValue >> 4)), flags: flags, edns: edns)
                        if round == 0 && flags.isEmpty, query.withUnsafeBytes({ AnswerCache.key(for: $0, maxUDPPayload: 1232) }) != nil { cacheable += 1 }
                        let expected = Self.reference(query, snapshot: snapshot)
                        #expect(Self.fast(query, answerer: &answerer) == expected, "\(spelling) \(type) \(edns.map { "\($0)" } ?? "no EDNS") \(flags)")
                    }
                }
            }
        }
        // Every question but AXFR is cacheable, in all six EDNS variants.
        #expect(cacheable == (questions.count - 1) * ednsVariants.count)
    }

    @Test("what the cache leaves alone still gets the general path's reply")
    func unusualMessages() async throws {
        let snapshot = (try await ZoneRecordStore(zones: [Self.zone])).snapshot()
        var answerer = UDPAnswerer(snapshot: snapshot, responder: QueryResponder())
        let plain = try Self.message("www.svc.test.", .a, edns: EDNS())
        var messages: [[UInt8]] = [
            plain + [0],  // trailing byte
            Array(plain.dropLast(3)),  // cut short
            try Self.message("www.svc.test.", .a, edns: EDNS(version: 1)),  // BADVERS
            try DNSMessage(header: DNSHeader(id: 7, opcode: Opcode(rawValue: 2)), questions: [Question(name: "www.svc.test.", type: .a)]).encode(),  // NOTIMP
            try DNSMessage(header: DNSHeader(id: 8), questions: [Question(name: "www.svc.test.", type: .a), Question(name: "svc.test.", type: .soa)]).encode(),
            try DNSMessage(header: DNSHeader(id: 9, flags: [.response]), questions: [Question(name: "www.svc.test.", type: .a)]).encode(),  // a response: dropped
            [0, 1, 2],
        ]
        // The question name as a compression pointer to itself: a loop.
        messages.append([0, 10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1])
        // A bad OPT option length.
        var badOption = try Self.message("www.svc.test.", .a, edns: EDNS(options: [EDNSOption(code: 10, data: [1, 2, 3, 4])]))
        badOption[badOption.count - 5] = 9
        messages.append(badOption)
        for message in messages {
            for _ in 0..<2 {
                #expect(Self.fast(message, answerer: &answerer) == Self.reference(message, snapshot: snapshot), "\(message)")
            }
        }
    }

    @Test("a new snapshot replaces every cached answer")
    func snapshotChangeInvalidates() async throws {
        let store = try await ZoneRecordStore(zones: [Self.zone])
        var answerer = UDPAnswerer(snapshot: store.snapshot(), responder: QueryResponder())
        let query = try Self.message("new.svc.test.", .a)
        let before = try DNSMessage(decoding: try #require(Self.fast(query, answerer: &answerer)))
        #expect(before.header.rcode == .nxDomain)
        #expect(Self.fast(query, answerer: &answerer) == Self.reference(query, snapshot: answerer.snapshot))
        try await store.add([try ResourceRecord(presentation: "new.svc.test. 60 A 192.0.2.1")])
        answerer.use(store.snapshot())
        let after = try DNSMessage(decoding: try #require(Self.fast(query, answerer: &answerer)))
        #expect(after.header.rcode == .noError && after.answers.count == 1)
    }

    /// A UDP exchange from a fresh socket (so a fresh source port, and so any of the listener's threads).
    static func exchange(_ query: [UInt8], port: Int) -> [UInt8]? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard send(query, from: fd, port: port) == query.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 2048)
        let length = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return length > 0 ? Array(reply[..<length]) : nil
    }

    /// A port free for UDP right now.
    static func freePort() throws -> Int {
        let socket = try UDPSocket(binding: try SocketAddress(ipAddress: "127.0.0.1", port: 0))
        defer { socket.close() }
        return try #require(socket.localAddress?.port)
    }

    /// A UDP-only listener with `threads` threads on a free loopback port, once it answers.
    static func startListener(store: ZoneRecordStore, threads: Int) async throws -> (port: Int, running: Task<Void, any Error>) {
        let port = try freePort()
        let listener = DNSListener(
            configuration: DNSListenerConfiguration(addresses: [try SocketAddress(ipAddress: "127.0.0.1", port: port)], tcp: false, udpThreads: threads),
            store: store, logger: Logger(label: "test"))
        let running = Task { try await listener.run() }
        var ready = false
        for _ in 0..<200 where !ready {
            ready = exchange(try message("www.svc.test.", .a), port: port) != nil
            if !ready { try await Task.sleep(for: .milliseconds(10)) }
        }
        try #require(ready, "the listener never answered")
        return (port, running)
    }

    /// `sendto` 127.0.0.1:`port`; the bytes sent, or -1.
    static func send(_ message: [UInt8], from fd: Int32, port: Int) -> Int {
        var address = loopback(port: port)
        return message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    /// 127.0.0.1:`port`.
    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    @Test("a burst from many clients, topped up into batches, gets every answer back to its own sender")
    func burstsReachTheirSenders() async throws {
        let (port, running) = try await Self.startListener(store: try await ZoneRecordStore(zones: [Self.zone]), threads: 1)
        defer { running.cancel() }
        // 8 clients send 24 queries each without waiting: 192 datagrams, six batches' worth.
        let clients = 8, perClient = 24
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        for _ in 0..<clients {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            try #require(fd >= 0)
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            sockets.append(fd)
        }
        for query in 0..<perClient {
            for (client, fd) in sockets.enumerated() {
                let message = try Self.message(try DNSName("c\(client)-q\(query).apps.svc.test."), .a, id: UInt16(client * 256 + query))
                #expect(Self.send(message, from: fd, port: port) == message.count)
            }
        }
        for (client, fd) in sockets.enumerated() {
            var seen = Set<UInt16>()
            for _ in 0..<perClient {
                var reply = [UInt8](repeating: 0, count: 2048)
                let length = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard length > 0 else { break }
                let message = try DNSMessage(decoding: Array(reply[..<length]))
                let query = Int(message.header.id) - client * 256
                #expect((0..<perClient).contains(query), "client \(client) got ID \(message.header.id)")
                #expect(message.questions.first?.name == (try DNSName("c\(client)-q\(query).apps.svc.test.")))
                #expect(message.header.rcode == .noError && message.answers.count == 1)
                seen.insert(message.header.id)
            }
            #expect(seen.count == perClient, "client \(client) got \(seen.count) of \(perClient) answers")
        }
    }

    @Test("every thread answers a write as soon as it returns; a stopped listener leaves the port")
    func writesAreVisibleAtOnceOnEveryThread() async throws {
        let store = try await ZoneRecordStore(zones: [Self.zone])
        let (port, running) = try await Self.startListener(store: store, threads: 3)
        for index in 0..<20 {
            let query = try Self.message(try DNSName("new\(index).svc.test."), .a)
            // Cached as NXDOMAIN on whichever threads got it...
            for _ in 0..<6 {
                let reply = try DNSMessage(decoding: try #require(Self.exchange(query, port: port)))
                #expect(reply.header.rcode == .nxDomain)
            }
            try await store.add([try ResourceRecord(presentation: "new\(index).svc.test. 60 A 192.0.2.\(index + 1)")])
            // ...and answered by all of them once the write returned.
            for _ in 0..<6 {
                let reply = try DNSMessage(decoding: try #require(Self.exchange(query, port: port)))
                #expect(reply.header.rcode == .noError && reply.answers.count == 1, "new\(index)")
            }
        }
        running.cancel()
        _ = try? await running.value
        // No socket of the listener is left: a socket without SO_REUSEPORT binds the port.
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = Self.loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0)
    }
}
#endif
