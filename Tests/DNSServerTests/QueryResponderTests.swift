@testable import DNSServer
import DNSWire
import Testing
import ZoneStore

/// What the responder puts on the wire for each kind of query, without sockets.
@Suite("Query responder")
struct QueryResponderTests {
    static let zone = ZoneConfiguration(
        origin: "svc.test.", nameservers: ["ns1.svc.test."], admin: "admin.svc.test.", ttl: 3600, negativeTTL: 60,
        records: [
            "ns1.svc.test. 300 A 127.0.0.1",
            "www.svc.test. 300 A 10.8.10.1",
            "big.svc.test. 300 TXT \"\(String(repeating: "a", count: 250))\"",
            "big.svc.test. 300 TXT \"\(String(repeating: "b", count: 250))\"",
            "big.svc.test. 300 TXT \"\(String(repeating: "c", count: 250))\"",
        ].map { try! ResourceRecord(presentation: $0) })

    let snapshot: ZoneSnapshot
    let responder = QueryResponder()

    init() async throws {
        snapshot = (try await ZoneRecordStore(zones: [Self.zone])).snapshot()
    }

    func respond(_ bytes: [UInt8], transport: DNSTransport = .udp) -> DNSMessage? {
        var output = [UInt8](repeating: 0, count: 0xFFFF)
        let length = bytes.withUnsafeBytes { query in
            output.withUnsafeMutableBytes { out in responder.respond(to: query, snapshot: snapshot, transport: transport, into: out) }
        }
        guard let length else { return nil }
        return try? DNSMessage(decoding: Array(output[0..<length]))
    }

    func query(_ name: DNSName, _ type: RRType, edns: EDNS? = nil, flags: DNSHeader.Flags = [.recursionDesired], opcode: Opcode = .query) throws -> [UInt8] {
        try DNSMessage(header: DNSHeader(id: 0x4242, flags: flags, opcode: opcode), questions: [Question(name: name, type: type)], edns: edns).encode()
    }

    @Test func answersWithFlagsAndEchoedCase() throws {
        let response = try #require(respond(try query("WwW.SvC.tEsT.", .a)))
        #expect(response.header.id == 0x4242)
        #expect(response.header.flags == [.response, .authoritative, .recursionDesired])
        #expect(response.questions.first?.name.description == "WwW.SvC.tEsT.")
        // The owner is compressed to the question, so it reads in the question's case, as with Knot.
        #expect(response.answers.map(\.description) == ["WwW.SvC.tEsT. 300 IN A 10.8.10.1"])
        #expect(response.edns == nil)
    }

    @Test func ednsIsEchoedWith1232AndTheDOBit() throws {
        let response = try #require(respond(try query("www.svc.test.", .a, edns: EDNS(udpPayloadSize: 4096, dnssecOK: true))))
        #expect(response.edns == EDNS(udpPayloadSize: 1232, dnssecOK: true))
    }

    @Test func badVersIsReportedInOPT() throws {
        let response = try #require(respond(try query("www.svc.test.", .a, edns: EDNS(version: 1))))
        #expect(response.header.rcode == .badVers)
        #expect(!response.header.flags.contains(.authoritative))
        #expect(response.answers.isEmpty && response.edns != nil)
    }

    @Test("over 512 bytes without EDNS: TC and only the question; over TCP: everything")
    func truncation() throws {
        let udp = try #require(respond(try query("big.svc.test.", .txt)))
        #expect(udp.header.flags.contains(.truncated))
        #expect(udp.answers.isEmpty && udp.questions.count == 1)
        let small = try #require(respond(try query("big.svc.test.", .txt, edns: EDNS(udpPayloadSize: 600))))
        #expect(small.header.flags.contains(.truncated) && small.edns != nil)
        let large = try #require(respond(try query("big.svc.test.", .txt, edns: EDNS(udpPayloadSize: 1232))))
        #expect(!large.header.flags.contains(.truncated) && large.answers.count == 3)
        let tcp = try #require(respond(try query("big.svc.test.", .txt), transport: .tcp))
        #expect(!tcp.header.flags.contains(.truncated) && tcp.answers.count == 3)
    }

    @Test func sizesBelow512CountAs512() throws {
        let response = try #require(respond(try query("www.svc.test.", .a, edns: EDNS(udpPayloadSize: 100))))
        #expect(!response.header.flags.contains(.truncated))
        #expect(response.answers.count == 1)
    }

    @Test func unknownOpcodeIsNotImp() throws {
        let response = try #require(respond(try query("www.svc.test.", .a, opcode: Opcode(rawValue: 3))))
        #expect(response.header.rcode == .notImp)
        #expect(response.header.opcode == Opcode(rawValue: 3))
    }

    @Test func malformedButAnswerableIsFormErr() throws {
        var bytes = try query("www.svc.test.", .a)
        bytes.append(0xFF)
        let response = try #require(respond(bytes))
        #expect(response.header.rcode == .formErr && response.header.id == 0x4242)
        let twoQuestions = try DNSMessage(header: DNSHeader(id: 1), questions: [Question(name: "a.svc.test.", type: .a), Question(name: "b.svc.test.", type: .a)]).encode()
        #expect(respond(twoQuestions)?.header.rcode == .formErr)
        let none = try DNSMessage(header: DNSHeader(id: 1)).encode()
        #expect(respond(none)?.header.rcode == .formErr)
    }

    @Test func unanswerableIsDropped() throws {
        #expect(respond([1, 2, 3]) == nil)
        #expect(respond(try query("www.svc.test.", .a, flags: [.response])) == nil)
    }

    @Test func otherClassesAndTransfersOverUDPAreRefused() throws {
        let chaos = try DNSMessage(header: DNSHeader(id: 1), questions: [Question(name: "www.svc.test.", type: .a, class: .chaos)]).encode()
        #expect(respond(chaos)?.header.rcode == .refused)
        #expect(respond(try query("svc.test.", .axfr))?.header.rcode == .notImp)
    }
}
