import Metrics
import NIOCore
import NIOHTTPTypes
import Synchronization

/// How long an API connection may take over each phase, and how many may
/// be open at once. A phase's deadline is fixed when the phase starts:
/// bytes that trickle in do not extend it, so a client that sends one byte
/// a second is dropped like a silent one.
public struct APIConnectionSettings: Sendable {
    /// Open connections at most (over the API's listener).
    public var maxConnections: Int
    /// From accept (the TLS handshake included) to a complete request head.
    public var headerTimeout: TimeAmount
    /// From the request head to the end of its body.
    public var bodyTimeout: TimeAmount
    /// From the end of a response to the next complete request head.
    public var idleTimeout: TimeAmount

    public init(maxConnections: Int = 512, headerTimeout: TimeAmount = .seconds(10), bodyTimeout: TimeAmount = .seconds(10),
                idleTimeout: TimeAmount = .seconds(60)) {
        self.maxConnections = max(1, maxConnections)
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
    }
}

/// The open connections of one API server. When all `maxConnections`
/// are taken, a new one is admitted by closing the connection that has
/// waited longest for a request (as Knot does for DNS over TCP), so that
/// clients holding connections open without using them cannot lock the
/// others out; only when every connection is busy with a request is the
/// newcomer closed instead. A connection counts as waiting until its
/// request is complete (a slow body is the client's doing, not ours).
public final class APIConnectionTable: Sendable {
    public let settings: APIConnectionSettings

    private struct Entry {
        var channel: any Channel
        var waitingSince: NIODeadline
        var busy: Bool
    }
    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])
    private let open = Gauge(label: "cdnsd_api_connections")
    private let evicted = Counter(label: "cdnsd_api_connections_closed_total", dimensions: [("reason", "evicted")])
    private let refused = Counter(label: "cdnsd_api_connections_closed_total", dimensions: [("reason", "full")])
    let headerTimeouts = Counter(label: "cdnsd_api_connections_closed_total", dimensions: [("reason", "header_timeout")])
    let bodyTimeouts = Counter(label: "cdnsd_api_connections_closed_total", dimensions: [("reason", "body_timeout")])
    let idleTimeouts = Counter(label: "cdnsd_api_connections_closed_total", dimensions: [("reason", "idle_timeout")])

    public init(settings: APIConnectionSettings = APIConnectionSettings()) {
        self.settings = settings
    }

    /// Connections open now.
    public var count: Int { entries.withLock { $0.count } }

    /// Registers `channel`; false when it must be closed (every slot busy).
    func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let now = NIODeadline.now()
        let (admitted, victim, total): (Bool, (any Channel)?, Int) = entries.withLock { entries in
            var victim: (any Channel)? = nil
            if entries.count >= settings.maxConnections {
                guard let oldest = entries.filter({ !$0.value.busy }).min(by: { $0.value.waitingSince < $1.value.waitingSince }) else {
                    return (false, nil, entries.count)
                }
                victim = oldest.value.channel
                entries[oldest.key] = nil
            }
            entries[id] = Entry(channel: channel, waitingSince: now, busy: false)
            return (true, victim, entries.count)
        }
        if let victim {
            evicted.increment()
            victim.close(promise: nil)
        }
        if !admitted { refused.increment() }
        open.record(total)
        return admitted
    }

    func setBusy(_ channel: any Channel, _ busy: Bool) {
        let id = ObjectIdentifier(channel)
        entries.withLock { entries in
            entries[id]?.busy = busy
            if !busy { entries[id]?.waitingSince = .now() }
        }
    }

    func remove(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let total = entries.withLock { entries in
            entries[id] = nil
            return entries.count
        }
        open.record(total)
    }
}

/// Enforces `APIConnectionSettings` on one connection: sits after the
/// HTTP decoder, sees request heads and ends and response ends, and closes
/// the connection when a phase overruns its deadline.
final class APIConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Phase {
        /// Waiting for a request head: the first (header timeout) or the next (idle timeout).
        case head(first: Bool)
        case body
        /// A request is being answered: no deadline of ours.
        case answering
    }

    private let table: APIConnectionTable
    private var phase = Phase.head(first: true)
    private var timer: Scheduled<Void>?
    private var registered = false

    init(table: APIConnectionTable) {
        self.table = table
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard table.admit(context.channel) else {
            context.close(promise: nil)
            return
        }
        registered = true
        arm(context, table.settings.headerTimeout, counter: table.headerTimeouts)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        release(context)
        context.fireChannelInactive()
    }

    private func release(_ context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if registered {
            registered = false
            table.remove(context.channel)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            phase = .body
            arm(context, table.settings.bodyTimeout, counter: table.bodyTimeouts)
        case .body:
            break
        case .end:
            phase = .answering
            table.setBusy(context.channel, true)
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            if case .answering = phase {
                phase = .head(first: false)
                table.setBusy(context.channel, false)
                arm(context, table.settings.idleTimeout, counter: table.idleTimeouts)
            }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount, counter: Counter) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) {
            counter.increment()
            channel.close(promise: nil)
        }
    }
}
