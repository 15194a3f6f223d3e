@testable import DNSServer
import DNSWire
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
import ZoneStore

/// The NIO handlers on an `EmbeddedChannel`: framing and ordering, no sockets.
@Suite("Channel handlers")
struct ChannelHandlerTests {
    static func snapshot() async throws -> ZoneSnapshot {
        (try await ZoneRecordStore(zones: [QueryResponderTests.zone])).snapshot()
    }

    static func query(id: UInt16, _ name: DNSName) throws -> [UInt8] {
        try DNSMessage(header: DNSHeader(id: id), questions: [Question(name: name, type: .a)]).encode()
    }

    @Test("several framed queries, split across reads, are answered in order")
    func tcpFramingAndOrder() async throws {
        let snapshot = try await Self.snapshot()
        let channel = EmbeddedChannel()
        let cache = SnapshotCache(eventLoop: channel.eventLoop, snapshot: snapshot)
        try channel.pipeline.syncOperations.addHandler(TCPQueryHandler(responder: QueryResponder(), cache: cache))
        var stream: [UInt8] = []
        for id in 1...3 {
            let message = try Self.query(id: UInt16(id), "www.svc.test.")
            stream += [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
        }
        // Deliver the three frames in awkward pieces: 1 byte, then the rest in two.
        let cuts = [0, 1, stream.count / 2, stream.count]
        for index in 0..<3 {
            try channel.writeInbound(channel.allocator.buffer(bytes: stream[cuts[index]..<cuts[index + 1]]))
        }
        for id in 1...3 {
            var frame = try #require(try channel.readOutbound(as: ByteBuffer.self))
            let prefix = frame.readInteger(as: UInt16.self)
            let length = try #require(prefix)
            #expect(Int(length) == frame.readableBytes)
            let response = try DNSMessage(decoding: Array(frame.readableBytesView))
            #expect(response.header.id == UInt16(id))
            #expect(response.answers.first?.data == .a(IPv4Address(10, 8, 10, 1)))
        }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }

    @Test func udpAnswersToTheSender() async throws {
        let channel = EmbeddedChannel()
        let cache = SnapshotCache(eventLoop: channel.eventLoop, snapshot: try await Self.snapshot())
        try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(responder: QueryResponder(), cache: cache))
        let sender = try SocketAddress(ipAddress: "127.0.0.9", port: 40000)
        try channel.writeInbound(AddressedEnvelope(remoteAddress: sender, data: channel.allocator.buffer(bytes: try Self.query(id: 9, "nope.example."))))
        try channel.writeInbound(AddressedEnvelope(remoteAddress: sender, data: channel.allocator.buffer(bytes: [0, 1, 2])))
        let reply = try #require(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        #expect(reply.remoteAddress == sender)
        #expect(try DNSMessage(decoding: Array(reply.data.readableBytesView)).header.rcode == .refused)
        #expect(try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil, "garbage is dropped")
        _ = try? channel.finish()
    }

    @Test("a published snapshot replaces an older one, never the reverse")
    func snapshotUpdates() async throws {
        let store = try await ZoneRecordStore(zones: [QueryResponderTests.zone])
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let old = store.snapshot()
        let cache = SnapshotCache(eventLoop: loop, snapshot: old)
        await store.subscribe(LoopSnapshotPublisher(caches: [cache]))
        try await store.add([try ResourceRecord(presentation: "new.svc.test. 60 A 192.0.2.1")])
        // The write returned, so the loop already answers from the new snapshot.
        #expect(try await loop.submit { cache.snapshot.lookup("new.svc.test.", type: .a).answer.count }.get() == 1)
        try await loop.submit { cache.update(old) }.get()
        #expect(try await loop.submit { cache.snapshot.lookup("new.svc.test.", type: .a).answer.count }.get() == 1)
    }
}
