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
    private let requestHandler: (any DNSRequestHandler)?
    private var pending = false
    /// Reused for every query on this channel: no per-query arrays.
    private var scratch = Answer(rcode: .noError, authoritative: true)
    private var counter = QueryCounter(transport: "udp")
    private let rateLimiter: ResponseRateLimiter
    private var limited = RateLimitCounter()

    init(responder: QueryResponder, cache: SnapshotCache, requestHandler: (any DNSRequestHandler)? = nil, rateLimiter: ResponseRateLimiter = ResponseRateLimiter(.off)) {
        self.responder = responder
        self.cache = cache
        self.requestHandler = requestHandler
        self.rateLimiter = rateLimiter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var response = context.channel.allocator.buffer(capacity: responder.bufferSize(for: .udp))
        switch responder.respond(to: envelope.data, snapshot: cache.snapshot, transport: .udp, appendingTo: &response, scratch: &scratch, deferring: requestHandler != nil) {
        case .answered(_, let rcode):
            counter.count(rcode)
            // Response rate limiting: over the rate, dropped or sent truncated (slip).
            let decision = rateLimiter.apply(to: &response, source: envelope.remoteAddress)
            limited.count(decision)
            if decision == .drop { return }
        case .dropped:
            counter.countDropped()
            return
        case .deferred(let message):
            guard let requestHandler else { return }
            let request = DNSRequest(bytes: Array(buffer: envelope.data), message: message, source: IPAddress(socketAddress: envelope.remoteAddress), transport: .udp)
            let channel = context.channel
            let remote = envelope.remoteAddress
            Task {
                let reply = await requestHandler.responses(to: request).first
                QueryCounter.count(deferredReply: reply, transport: "udp")
                guard let reply else { return }
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: channel.allocator.buffer(bytes: reply)), promise: nil)
            }
            return
        }
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: response)), promise: nil)
        pending = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        counter.flush()
        limited.flush()
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
