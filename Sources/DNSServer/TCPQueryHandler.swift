import DNSWire
import NIOCore
import ZoneStore

/// Splits a TCP stream into DNS messages by their 2-byte length prefix (RFC 1035 §4.2.2).
struct DNSMessageFramer: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
              buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        guard let message = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }
}

/// Answers each framed query on a connection in order, and closes the
/// connection when it has been idle too long.
final class TCPQueryHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private let responder: QueryResponder
    private let cache: SnapshotCache
    private let requestHandler: (any DNSRequestHandler)?
    private var pending = false
    /// Reused for every query on this channel: no per-query arrays.
    private var scratch = Answer(rcode: .noError, authoritative: true)
    private var counter = QueryCounter(transport: "tcp")

    init(responder: QueryResponder, cache: SnapshotCache, requestHandler: (any DNSRequestHandler)? = nil) {
        self.responder = responder
        self.cache = cache
        self.requestHandler = requestHandler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let query = unwrapInboundIn(data)
        var response = context.channel.allocator.buffer(capacity: 2 + responder.bufferSize(for: .tcp))
        response.writeInteger(UInt16(0))
        switch responder.respond(to: query, snapshot: cache.snapshot, transport: .tcp, appendingTo: &response, scratch: &scratch, deferring: requestHandler != nil) {
        case .answered(_, let rcode): counter.count(rcode)
        case .dropped:
            counter.countDropped()
            return
        case .deferred(let message):
            // Answered when the handler is done; DNS over TCP lets replies
            // come out of order (RFC 7766 §7), clients match them by ID.
            guard let requestHandler else { return }
            let request = DNSRequest(bytes: Array(buffer: query), message: message, source: IPAddress(socketAddress: context.channel.remoteAddress), transport: .tcp)
            let channel = context.channel
            Task {
                // A zone transfer is many messages, written in order.
                let replies = await requestHandler.responses(to: request)
                QueryCounter.count(deferredReply: replies.first, transport: "tcp")
                for reply in replies where reply.count <= 0xFFFF {
                    var frame = channel.allocator.buffer(capacity: reply.count + 2)
                    frame.writeInteger(UInt16(reply.count))
                    frame.writeBytes(reply)
                    channel.write(frame, promise: nil)
                }
                if !replies.isEmpty { channel.flush() }
            }
            return
        }
        response.setInteger(UInt16(response.readableBytes - 2), at: response.readerIndex)
        context.write(wrapOutboundOut(response), promise: nil)
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

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A framing error or reset ends this connection only.
        context.close(promise: nil)
    }
}
