import DNSWire
import NIOCore
import ZoneStore

/// Answers DNS datagrams. Responses are written as they are produced and
/// flushed once per read burst, so NIO sends them with one `sendmmsg`.
final class UDPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let responder: QueryResponder
    private let cache: SnapshotCache
    private var pending = false
    /// Reused for every query on this channel: no per-query arrays.
    private var scratch = Answer(rcode: .noError, authoritative: true)
    private var counter = QueryCounter(transport: "udp")

    init(responder: QueryResponder, cache: SnapshotCache) {
        self.responder = responder
        self.cache = cache
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var response = context.channel.allocator.buffer(capacity: responder.bufferSize(for: .udp))
        guard responder.respond(to: envelope.data, snapshot: cache.snapshot, transport: .udp, appendingTo: &response, scratch: &scratch) else {
            counter.countDropped()
            return
        }
        counter.count(response: response, headerStart: response.readerIndex)
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: response)), promise: nil)
        pending = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        counter.flush()
        if pending {
            pending = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram socket survives ICMP errors and the like; keep serving.
    }
}
