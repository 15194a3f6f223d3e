import DNSWire
import NIOCore
import ZoneStore

/// A message the query path hands on instead of answering from the
/// snapshot itself: a dynamic UPDATE, or any message signed with TSIG.
public struct DNSRequest: Sendable {
    /// The message exactly as received (TSIG covers these bytes).
    public let bytes: [UInt8]
    public let message: DNSMessage
    /// The peer's address; nil when the socket gave none.
    public let source: IPAddress?
    public let transport: DNSTransport

    public init(bytes: [UInt8], message: DNSMessage, source: IPAddress?, transport: DNSTransport) {
        self.bytes = bytes
        self.message = message
        self.source = source
        self.transport = transport
    }
}

/// Answers the messages that need more than a snapshot lookup: work that
/// waits for the store (UPDATE) or for key material (TSIG). The listeners
/// call it off the event loop and send what it returns; nil sends nothing.
public protocol DNSRequestHandler: Sendable {
    func respond(to request: DNSRequest) async -> [UInt8]?
    /// Every message of the answer, in order: one for most requests, many
    /// for a zone transfer over TCP. Empty sends nothing.
    func responses(to request: DNSRequest) async -> [[UInt8]]
}

extension DNSRequestHandler {
    public func responses(to request: DNSRequest) async -> [[UInt8]] {
        await respond(to: request).map { [$0] } ?? []
    }
}

extension DNSMessage {
    /// Whether the listeners hand this message to a `DNSRequestHandler`:
    /// UPDATE, NOTIFY, signed messages, AXFR over TCP and IXFR.
    func needsRequestHandler(transport: DNSTransport) -> Bool {
        if header.opcode == .update || header.opcode == .notify { return true }
        if header.opcode == .query, questions.count == 1 {
            let type = questions[0].type
            if type == .ixfr || (type == .axfr && transport == .tcp) { return true }
        }
        return additional.contains { $0.type == .tsig } || answers.contains { $0.type == .tsig } || authority.contains { $0.type == .tsig }
    }
}

extension IPAddress {
    /// The address of a socket peer; nil for none or a Unix socket.
    init?(socketAddress: SocketAddress?) {
        guard let text = socketAddress?.ipAddress else { return nil }
        self.init(text)
    }
}
