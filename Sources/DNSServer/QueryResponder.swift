import DNSWire
import NIOCore
import ZoneStore

/// How a query arrived; it decides the response size limit.
public enum DNSTransport: Sendable {
    case udp
    case tcp
}

/// Turns one query message into one response message, apart from any I/O.
///
/// Decodes the query, asks the snapshot, and writes the response with the
/// right flags, EDNS and size limit: 512 bytes without EDNS, the client's
/// EDNS size clamped to 512…`maxUDPPayload` with it, 65535 over TCP. When an
/// answer or authority RRset does not fit, the response keeps only the
/// question and sets TC, as Knot does; additional data that does not fit is
/// left out silently.
public struct QueryResponder: Sendable {
    /// The EDNS UDP size advertised and honoured at most (the DNS flag day 2020 value).
    public var maxUDPPayload: UInt16

    public init(maxUDPPayload: UInt16 = 1232) {
        self.maxUDPPayload = maxUDPPayload
    }

    /// The largest response this responder writes over `transport`.
    public func bufferSize(for transport: DNSTransport) -> Int {
        transport == .tcp ? 0xFFFF : Int(max(maxUDPPayload, 512))
    }

    /// Writes the response to `query` into `output` and returns its length, or
    /// nil when the datagram deserves no answer (too short, or a response).
    public func respond(to query: UnsafeRawBufferPointer, snapshot: ZoneSnapshot, transport: DNSTransport, into output: UnsafeMutableRawBufferPointer) -> Int? {
        var scratch = Answer(rcode: .noError, authoritative: true)
        return respond(to: query, snapshot: snapshot, transport: transport, into: output, scratch: &scratch)
    }

    /// `respond(to:snapshot:transport:into:)` with an `Answer` the caller keeps
    /// between queries, so that its arrays are not allocated per query.
    public func respond(to query: UnsafeRawBufferPointer, snapshot: ZoneSnapshot, transport: DNSTransport, into output: UnsafeMutableRawBufferPointer, scratch: inout Answer) -> Int? {
        if case .answered(let length, _) = respond(to: query, snapshot: snapshot, transport: transport, into: output, scratch: &scratch, deferring: false) {
            return length
        }
        return nil
    }

    /// What became of one incoming message.
    enum Outcome {
        /// The response's length and its whole response code, extended
        /// bits included (BADVERS is 16: 0 in the header, 1 in the OPT), for counting.
        case answered(length: Int, rcode: ResponseCode)
        /// No answer deserved (too short, or a response).
        case dropped
        /// For the `DNSRequestHandler`: an UPDATE, NOTIFY, zone transfer or signed message.
        case deferred(DNSMessage)
    }

    /// Answers `query`, or with `deferring` hands UPDATEs and signed
    /// messages back undecided. Without a handler an UPDATE gets NOTIMP
    /// and a signed query an unsigned answer.
    func respond(to query: UnsafeRawBufferPointer, snapshot: ZoneSnapshot, transport: DNSTransport, into output: UnsafeMutableRawBufferPointer, scratch: inout Answer, deferring: Bool) -> Outcome {
        guard query.count >= 12, query[2] & 0x80 == 0 else { return .dropped }
        let message: DNSMessage
        do {
            message = try DNSMessage(decoding: query)
        } catch {
            return bareError(.formErr, query: query, into: output).map { .answered(length: $0, rcode: .formErr) } ?? .dropped
        }
        if deferring && message.needsRequestHandler(transport: transport) { return .deferred(message) }
        return answer(message, snapshot: snapshot, transport: transport, into: output, result: &scratch).map { .answered(length: $0, rcode: scratch.rcode) } ?? .dropped
    }

    /// Header-only error reply for a query that could not be decoded.
    func bareError(_ rcode: ResponseCode, query: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        var header = DNSHeader(id: UInt16(query[0]) << 8 | UInt16(query[1]), flags: [.response], opcode: Opcode(rawValue: (query[2] >> 3) & 0x0F), rcode: rcode)
        if query[2] & 0x01 != 0 { header.flags.insert(.recursionDesired) }
        var writer = DNSMessageWriter(buffer: output, maxSize: 512)
        do {
            try writer.writeHeader(header)
            return try writer.finish()
        } catch {
            return nil
        }
    }

    /// - Parameter reserving: bytes kept free at the end (for a TSIG record).
    func answer(_ query: DNSMessage, snapshot: ZoneSnapshot, transport: DNSTransport, into output: UnsafeMutableRawBufferPointer, result: inout Answer, reserving: Int = 0) -> Int? {
        var header = DNSHeader(id: query.header.id, flags: [.response], opcode: query.header.opcode)
        header.flags.formUnion(query.header.flags.intersection([.recursionDesired, .checkingDisabled]))
        var maxSize = 0xFFFF
        if transport == .udp {
            maxSize = query.edns.map { Int(min(max($0.udpPayloadSize, 512), maxUDPPayload)) } ?? 512
        }
        maxSize -= reserving
        let question = query.questions.count == 1 ? query.questions[0] : nil

        if query.header.opcode != .query {
            result.reset(rcode: .notImp)
        } else if let edns = query.edns, edns.version != 0 {
            result.reset(rcode: .badVers)
        } else if let question {
            if question.type == .axfr || question.type == .ixfr {
                result.reset(rcode: transport == .udp ? .notImp : .refused)
            } else if question.qClass != .in {
                result.refuse()
            } else {
                snapshot.lookup(question.name, type: question.type, into: &result)
            }
        } else {
            result.reset(rcode: .formErr)
        }
        header.rcode = result.rcode
        if result.authoritative { header.flags.insert(.authoritative) }
        var responseEDNS = query.edns.map { EDNS(udpPayloadSize: maxUDPPayload, dnssecOK: $0.dnssecOK) }
        if let code = result.extendedError {
            responseEDNS?.options = [EDNSOption(code: EDNSOption.extendedError, data: [UInt8(code >> 8), UInt8(code & 0xFF)])]
        }

        do {
            var writer = try start(header, question: question, edns: responseEDNS, maxSize: maxSize, output: output)
            var fits = true
            for rrset in result.answer where fits {
                fits = try writer.append(rrset.rrset.records, to: .answer, owner: rrset.owner)
            }
            for rrset in result.authority where fits {
                fits = try writer.append(rrset.rrset.records, to: .authority, owner: rrset.owner)
            }
            if !fits {
                header.flags.insert(.truncated)
                writer = try start(header, question: question, edns: responseEDNS, maxSize: maxSize, output: output)
                return try writer.finish()
            }
            for rrset in result.additional {
                guard try writer.append(rrset.rrset.records, to: .additional, owner: rrset.owner) else { break }
            }
            return try writer.finish()
        } catch {
            return nil
        }
    }

    private func start(_ header: DNSHeader, question: Question?, edns: EDNS?, maxSize: Int, output: UnsafeMutableRawBufferPointer) throws(DNSWireError) -> DNSMessageWriter {
        var writer = DNSMessageWriter(buffer: output, maxSize: maxSize)
        try writer.writeHeader(header)
        if let edns { try writer.reserveEDNS(edns) }
        if let question { try writer.append(question) }
        return writer
    }
}

extension QueryResponder {
    /// Appends the response to `query` to `response`; false when the query
    /// deserves no answer. The handlers' one way into the responder.
    func respond(to query: ByteBuffer, snapshot: ZoneSnapshot, transport: DNSTransport, appendingTo response: inout ByteBuffer, scratch: inout Answer, deferring: Bool = false) -> Outcome {
        var outcome = Outcome.dropped
        let size = bufferSize(for: transport)
        _ = query.withUnsafeReadableBytes { bytes in
            response.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { output in
                outcome = respond(to: bytes, snapshot: snapshot, transport: transport, into: output, scratch: &scratch, deferring: deferring)
                guard case .answered(let length, _) = outcome else { return 0 }
                return length
            }
        }
        return outcome
    }
}
