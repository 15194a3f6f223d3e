import DNSWire
import Testing

@Suite("Round trips")
struct RoundTripTests {
    @Test("every type survives encode and decode", arguments: Fixtures.everyType)
    func wireRoundTrip(record: ResourceRecord) throws {
        let message = DNSMessage(
            header: DNSHeader(id: 0xBEEF, flags: [.response, .authoritative]),
            questions: [Question(name: record.name, type: record.type)],
            answers: [record])
        let decoded = try DNSMessage(decoding: try message.encode())
        #expect(decoded == message)
        #expect(decoded.answers.first?.data == record.data)
        #expect(decoded.answers.first?.name.description == record.name.description, "case and escapes kept")
    }

    @Test("every type survives print and parse", arguments: Fixtures.everyType)
    func presentationRoundTrip(record: ResourceRecord) throws {
        let line = record.description
        let parsed = try ResourceRecord(presentation: line)
        #expect(parsed == record, "\(line)")
        #expect(parsed.description == line)
    }

    @Test("all sections, flags, opcode and EDNS survive")
    func wholeMessage() throws {
        let message = DNSMessage(
            header: DNSHeader(id: 1, flags: [.response, .authoritative, .truncated, .recursionDesired, .recursionAvailable, .z, .authenticData, .checkingDisabled], opcode: .update, rcode: .badVers),
            questions: [Question(name: "svc.dev.", type: .soa), Question(name: "WWW.svc.dev.", type: .any, class: .chaos)],
            answers: Array(Fixtures.everyType.prefix(5)),
            authority: Array(Fixtures.everyType.dropFirst(5).prefix(5)),
            additional: Array(Fixtures.everyType.dropFirst(10)),
            edns: EDNS(udpPayloadSize: 4096, version: 0, dnssecOK: true, reservedFlags: 0x0102, options: [
                EDNSOption(code: EDNSOption.cookie, data: [1, 2, 3, 4, 5, 6, 7, 8]),
                EDNSOption(code: 12, data: []),
            ]))
        let bytes = try message.encode()
        let decoded = try DNSMessage(decoding: bytes)
        #expect(decoded == message)
        #expect(decoded.header.rcode == .badVers)
        #expect(decoded.header.opcode == .update)
        #expect(try decoded.encode() == bytes, "re-encoding is byte-identical")
    }

    @Test("opaque data of a known type round-trips byte for byte when empty")
    func emptyRdata() throws {
        let record = ResourceRecord(name: "x.svc.dev.", class: .none, ttl: 0, data: .opaque(.a, []))
        let decoded = try DNSMessage(decoding: try DNSMessage(answers: [record]).encode())
        #expect(decoded.answers == [record])
    }

    @Test("an rcode above 15 needs EDNS")
    func extendedRcodeWithoutEDNS() {
        let message = DNSMessage(header: DNSHeader(rcode: .badCookie))
        #expect(throws: DNSWireError.self) { try message.encode() }
    }
}
