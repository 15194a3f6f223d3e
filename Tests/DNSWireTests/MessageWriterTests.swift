import DNSWire
import Testing

@Suite("Message writer")
struct MessageWriterTests {
    static let question = Question(name: "big.svc.dev.", type: .txt)
    static let rrset: [ResourceRecord] = (0..<8).map { index in
        ResourceRecord(name: "big.svc.dev.", ttl: 60, data: .txt(TXT(text: String(repeating: Character(String(index)), count: 100))))
    }

    /// Writes header, question, one answer RRset and a glue-like additional
    /// record into `maxSize` bytes, the way a UDP responder does.
    static func respond(maxSize: Int, edns: EDNS?) throws -> (DNSMessage, Int, answered: Bool, extra: Bool) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let (length, answered, extra) = try buffer.withUnsafeMutableBytes { raw in
            var writer = DNSMessageWriter(buffer: raw, maxSize: maxSize)
            try writer.writeHeader(DNSHeader(id: 9, flags: [.response, .authoritative]))
            if let edns { try writer.reserveEDNS(edns) }
            try writer.append(question)
            let answered = try writer.append(rrset, to: .answer)
            if !answered { writer.setTruncated() }
            let extra = try writer.append(ResourceRecord(name: "ns.svc.dev.", ttl: 60, data: .a(IPv4Address(1, 1, 1, 1))), to: .additional)
            return (try writer.finish(), answered, extra)
        }
        return (try DNSMessage(decoding: Array(buffer[0..<length])), length, answered, extra)
    }

    @Test func fitsWhole() throws {
        let (message, length, answered, extra) = try Self.respond(maxSize: 4096, edns: EDNS())
        #expect(answered && extra)
        #expect(message.answers == Self.rrset)
        #expect(message.additional.count == 1)
        #expect(message.edns == EDNS())
        #expect(!message.header.flags.contains(.truncated))
        #expect(length > 512)
    }

    @Test("over 512 bytes the RRset is dropped whole and TC set")
    func truncatesWholeRRset() throws {
        let (message, length, answered, extra) = try Self.respond(maxSize: 512, edns: nil)
        #expect(!answered)
        #expect(extra, "a small record still fits after the rollback")
        #expect(message.header.flags.contains(.truncated))
        #expect(message.answers.isEmpty)
        #expect(message.questions == [Self.question])
        #expect(length <= 512)
    }

    @Test("the OPT record always fits: its room is reserved")
    func ednsIsReserved() throws {
        // Exactly enough for header, question and OPT, nothing else.
        let room = 12 + Self.question.name.wireLength + 4 + EDNS().wireLength
        let (message, length, answered, extra) = try Self.respond(maxSize: room, edns: EDNS())
        #expect(!answered && !extra)
        #expect(message.edns != nil)
        #expect(length == room)
    }

    @Test func extendedRcodeGoesIntoOPT() throws {
        var buffer = [UInt8](repeating: 0, count: 512)
        let length = try buffer.withUnsafeMutableBytes { raw in
            var writer = DNSMessageWriter(buffer: raw, maxSize: 512)
            try writer.writeHeader(DNSHeader(id: 1, flags: [.response], rcode: .badVers))
            try writer.reserveEDNS(EDNS())
            return try writer.finish()
        }
        let message = try DNSMessage(decoding: Array(buffer[0..<length]))
        #expect(message.header.rcode == .badVers)
        #expect(buffer[3] & 0x0F == 0, "low bits of 16 are zero in the header")
        #expect(buffer[length - 6] == 1, "upper bits in the OPT TTL")
    }

    @Test("wildcard synthesis writes the query name as owner")
    func ownerOverride() throws {
        var buffer = [UInt8](repeating: 0, count: 512)
        let wildcard = ResourceRecord(name: "*.svc.dev.", ttl: 60, data: .a(IPv4Address(10, 8, 10, 252)))
        let length = try buffer.withUnsafeMutableBytes { raw in
            var writer = DNSMessageWriter(buffer: raw, maxSize: 512)
            try writer.writeHeader(DNSHeader(id: 1, flags: [.response]))
            try writer.append(Question(name: "Foo.svc.dev.", type: .a))
            try writer.append(wildcard, to: .answer, owner: "Foo.svc.dev.")
            return try writer.finish()
        }
        let message = try DNSMessage(decoding: Array(buffer[0..<length]))
        #expect(message.answers.first?.name.description == "Foo.svc.dev.")
        #expect(length == 12 + 17 + 16)
    }
}
