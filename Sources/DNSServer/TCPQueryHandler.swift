import DNSWire
import Metrics
import NIOCore
import ZoneStore

/// Splits a TCP stream into DNS messages by their 2-byte length prefix (RFC 1035 §4.2.2).
/// Kept for embedders and tests; the server's `TCPQueryHandler` frames by itself.
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

/// The buffer one event loop writes TCP responses into before copying each
/// into a frame of its own size: one 64 KiB buffer per loop instead of one
/// per reply.
///
/// `@unchecked Sendable`: the memory is used only on `eventLoop` (every
/// use asserts it in debug builds) and only between two statements of one
/// handler call, never across an await or a callback; the instance crosses
/// threads only to reach that loop's channel initialisers.
final class TCPReplyScratch: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let memory: UnsafeMutableRawBufferPointer

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        memory = .allocate(byteCount: 0x10000 + 2, alignment: 16)
    }

    deinit { memory.deallocate() }

    var buffer: UnsafeMutableRawBufferPointer {
        eventLoop.assertInEventLoop()
        return memory
    }
}

/// Why the server closed a TCP connection, as counted in
/// `cdnsd_dns_tcp_closed_total{reason}` (`evicted` is counted by the table).
enum TCPCloseReason: String, CaseIterable {
    case idle, message_timeout, lifetime
}

/// Counters shared by every connection of a listener.
struct TCPMetrics: Sendable {
    let closed: [Counter]
    let paused: Counter

    init() {
        closed = TCPCloseReason.allCases.map { Counter(label: "cdnsd_dns_tcp_closed_total", dimensions: [("reason", $0.rawValue)]) }
        paused = Counter(label: "cdnsd_dns_tcp_read_paused_total")
    }

    func count(_ reason: TCPCloseReason) {
        closed[TCPCloseReason.allCases.firstIndex(of: reason) ?? 0].increment()
    }
}

/// Answers the DNS messages of one TCP connection, framed by their length
/// prefix, within the connection's limits (`TCPLimits`):
///
/// - at most `maxRepliesInFlight` replies produced and not yet taken by
///   the client; past it, or while the socket's send buffer is full, the
///   handler stops reading (NIO's `read` is held back) and leaves pipelined
///   queries unanswered in its input buffer until the client reads;
/// - closed after `idleTimeout` with no complete query and no finished
///   write, `messageTimeout` after a message began without arriving whole,
///   and `lifetime` after it was accepted;
/// - every reply is a buffer of its own size, written from the loop's
///   `TCPReplyScratch`.
///
/// UPDATEs, zone transfers and signed messages go to the `DNSRequestHandler`
/// off the loop; their replies come back in any order (RFC 7766 §7).
final class TCPQueryHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let responder: QueryResponder
    private let cache: SnapshotCache
    private let scratchBuffer: TCPReplyScratch
    private let requestHandler: (any DNSRequestHandler)?
    private let limits: TCPLimits
    private let slot: TCPConnectionTable.Slot?
    private let metrics: TCPMetrics?

    /// Reused for every query on this channel: no per-query arrays.
    private var scratch = Answer(rcode: .noError, authoritative: true)
    private var counter = QueryCounter(transport: "tcp")

    /// Bytes received and not yet answered: partial or held-back messages.
    private var input: ByteBuffer?
    /// When the first byte of the incomplete message at the head of `input` arrived.
    private var partialSince: NIODeadline?
    private var lastActivity: NIODeadline
    private let accepted: NIODeadline
    /// Replies produced so far, and how many of them the socket has taken.
    private var produced = 0
    private var completed = 0
    /// Requests handed to the `DNSRequestHandler` and not yet answered.
    private var deferred = 0
    /// The latest reply, written at the next flush with its promise: one
    /// promise per flush tells when every reply before it is sent.
    private var held: ByteBuffer?
    private var readHeld = false
    private var processing = false
    private var resuming = false
    private var resumeAgain = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline = .distantFuture
    private var context: ChannelHandlerContext?

    init(responder: QueryResponder, cache: SnapshotCache, scratch: TCPReplyScratch? = nil, requestHandler: (any DNSRequestHandler)? = nil,
         limits: TCPLimits = TCPLimits(), slot: TCPConnectionTable.Slot? = nil, metrics: TCPMetrics? = nil) {
        self.responder = responder
        self.cache = cache
        self.scratchBuffer = scratch ?? TCPReplyScratch(eventLoop: cache.eventLoop)
        self.requestHandler = requestHandler
        self.limits = limits
        self.slot = slot
        self.metrics = metrics
        self.accepted = cache.eventLoop.now
        self.lastActivity = cache.eventLoop.now
    }

    private var inFlight: Int { produced - completed + deferred }

    /// Whether another query may be answered now.
    private func mayAnswer(_ context: ChannelHandlerContext) -> Bool {
        inFlight < limits.maxRepliesInFlight && context.channel.isWritable
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armTimer(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
        input = nil
        held = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if input == nil {
            input = bytes
        } else {
            input?.writeBuffer(&bytes)
        }
        process(context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        counter.flush()
        flushReplies(context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { resume(context) }
        context.fireChannelWritabilityChanged()
    }

    /// NIO asks for more input after each read: held back while the client
    /// is not taking its replies.
    func read(context: ChannelHandlerContext) {
        if mayAnswer(context) && !hasCompleteMessage {
            context.read()
        } else {
            if !readHeld { metrics?.paused.increment() }
            readHeld = true
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset ends this connection only.
        context.close(promise: nil)
    }

    private var hasCompleteMessage: Bool {
        guard let input, let length = input.getInteger(at: input.readerIndex, as: UInt16.self) else { return false }
        return input.readableBytes >= 2 + Int(length)
    }

    /// Answers the complete messages in `input` while the limits allow.
    private func process(_ context: ChannelHandlerContext) {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        var answered = false
        while mayAnswer(context), var buffer = input,
              let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
              buffer.readableBytes >= 2 + Int(length) {
            buffer.moveReaderIndex(forwardBy: 2)
            guard let message = buffer.readSlice(length: Int(length)) else { break }
            input = buffer
            partialSince = nil
            answer(message, context: context)
            answered = true
            guard self.context != nil else { return }
        }
        if answered {
            lastActivity = context.eventLoop.now
            slot?.touch(lastActivity)
        }
        if let buffer = input {
            if buffer.readableBytes == 0 {
                input = nil
                partialSince = nil
            } else {
                if buffer.readerIndex > 0x8000 { input?.discardReadBytes() }
                if !hasCompleteMessage && partialSince == nil {
                    let now = context.eventLoop.now
                    partialSince = now
                    if now + limits.messageTimeout < timerDeadline { armTimer(context) }
                }
            }
        }
    }

    private func answer(_ query: ByteBuffer, context: ChannelHandlerContext) {
        let output = scratchBuffer.buffer
        let outcome = query.withUnsafeReadableBytes { bytes in
            responder.respond(to: bytes, snapshot: cache.snapshot, transport: .tcp, into: UnsafeMutableRawBufferPointer(rebasing: output[2...]), scratch: &scratch, deferring: requestHandler != nil)
        }
        switch outcome {
        case .answered(let length, let rcode):
            counter.count(rcode)
            var frame = context.channel.allocator.buffer(capacity: length + 2)
            frame.writeInteger(UInt16(length))
            frame.writeBytes(UnsafeRawBufferPointer(rebasing: output[2..<(2 + length)]))
            enqueue(frame, context: context)
        case .dropped:
            counter.countDropped()
        case .deferred(let message):
            guard let requestHandler else { return }
            let request = DNSRequest(bytes: Array(buffer: query), message: message, source: IPAddress(socketAddress: context.channel.remoteAddress), transport: .tcp)
            deferred += 1
            let loop = NIOLoopBound(self, eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            Task {
                // A zone transfer is many messages, written in order.
                let replies = await requestHandler.responses(to: request)
                QueryCounter.count(deferredReply: replies.first, transport: "tcp")
                eventLoop.execute { loop.value.finishDeferred(replies) }
            }
        }
    }

    /// Writes what the `DNSRequestHandler` answered, on the loop.
    private func finishDeferred(_ replies: [[UInt8]]) {
        deferred -= 1
        guard let context else { return }
        for reply in replies where reply.count <= 0xFFFF {
            var frame = context.channel.allocator.buffer(capacity: reply.count + 2)
            frame.writeInteger(UInt16(reply.count))
            frame.writeBytes(reply)
            enqueue(frame, context: context)
        }
        flushReplies(context)
        resume(context)
    }

    private func enqueue(_ frame: ByteBuffer, context: ChannelHandlerContext) {
        if let previous = held { context.write(wrapOutboundOut(previous), promise: nil) }
        held = frame
        produced += 1
    }

    /// Flushes the replies written so far; when the socket has taken them
    /// all, their slots free up and reading resumes.
    private func flushReplies(_ context: ChannelHandlerContext) {
        guard let last = held else { return }
        held = nil
        let target = produced
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(last), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { [self] result in
            guard case .success = result else { return }
            completed = max(completed, target)
            lastActivity = context.eventLoop.now
            slot?.touch(lastActivity)
            if let context = self.context { resume(context) }
        }
    }

    /// Answers held-back queries and reads again once the limits allow.
    /// A flush that completes at once calls back into here: that call only
    /// asks the outer one to go round again, so the stack stays flat.
    private func resume(_ context: ChannelHandlerContext) {
        if resuming {
            resumeAgain = true
            return
        }
        resuming = true
        defer { resuming = false }
        repeat {
            resumeAgain = false
            guard self.context != nil, mayAnswer(context), hasCompleteMessage else { break }
            process(context)
            counter.flush()
            flushReplies(context)
        } while resumeAgain
        if readHeld && self.context != nil && mayAnswer(context) && !hasCompleteMessage {
            readHeld = false
            context.read()
        }
    }

    /// Schedules the next check of the timeouts. The timer is not moved
    /// on every query: when it fires early it re-arms for the new deadline.
    private func armTimer(_ context: ChannelHandlerContext) {
        let deadline = nextDeadline()
        if timer != nil && timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = .distantFuture
            guard let context = self.context else { return }
            checkTimeouts(context)
        }
    }

    private func nextDeadline() -> NIODeadline {
        var deadline = accepted + limits.lifetime
        if deferred == 0 { deadline = min(deadline, lastActivity + limits.idleTimeout) }
        if let partialSince { deadline = min(deadline, partialSince + limits.messageTimeout) }
        return deadline
    }

    private func checkTimeouts(_ context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        var reason: TCPCloseReason? = nil
        if now >= accepted + limits.lifetime {
            reason = .lifetime
        } else if let partialSince, now >= partialSince + limits.messageTimeout {
            reason = .message_timeout
        } else if deferred == 0 && now >= lastActivity + limits.idleTimeout {
            reason = .idle
        }
        if let reason {
            metrics?.count(reason)
            context.close(promise: nil)
        } else {
            armTimer(context)
        }
    }
}
