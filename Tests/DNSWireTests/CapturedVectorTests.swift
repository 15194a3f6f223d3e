import DNSWire
import Foundation
import Testing

/// Bytes captured from dig, kdig and knotd (see Vectors/README.md), decoded
/// and checked against what those tools printed for the same exchange.
@Suite("Captured vectors")
struct CapturedVectorTests {
    static func load(_ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "hex", subdirectory: "Vectors"))
        let hex = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").first { !$0.hasPrefix("#") } ?? ""
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(try #require(UInt8(hex[index..<next], radix: 16)))
            index = next
        }
        return bytes
    }

    /// Decodes both directions, checks they belong together, and that our
    /// encoder reproduces knotd's response byte for byte (same compression).
    static func exchange(_ name: String) throws -> (query: DNSMessage, response: DNSMessage) {
        let queryBytes = try load("\(name).query")
        let responseBytes = try load("\(name).response")
        let query = try DNSMessage(decoding: queryBytes)
        let response = try DNSMessage(decoding: responseBytes)
        #expect(response.header.id == query.header.id)
        #expect(response.header.flags.contains(.response))
        #expect(!query.header.flags.contains(.response))
        #expect(response.questions == query.questions)
        #expect(try query.encode() == queryBytes, "query re-encodes to the same bytes")
        if response.additional.allSatisfy({ $0.type != .tsig }) {
            #expect(try response.encode() == responseBytes, "response re-encodes to knotd's bytes")
        }
        return (query, response)
    }

    @Test func digQueryCarriesEDNSAndCookie() throws {
        let (query, response) = try Self.exchange("dig-a")
        #expect(query.header.id == 2056)
        #expect(query.header.flags == [.authenticData])
        #expect(query.header.opcode == .query)
        #expect(query.questions == [Question(name: "www.svc.test.", type: .a)])
        let edns = try #require(query.edns)
        #expect(edns.udpPayloadSize == 1232)
        #expect(edns.version == 0)
        #expect(!edns.dnssecOK)
        #expect(edns.options.map(\.code) == [EDNSOption.cookie])
        #expect(edns.options.first?.data.count == 8)
        #expect(response.header.flags == [.response, .authoritative])
        #expect(response.answers == [ResourceRecord(name: "www.svc.test.", ttl: 300, data: .a(IPv4Address(10, 8, 10, 1)))])
        #expect(response.edns?.udpPayloadSize == 1232)
        #expect(response.edns?.options == [])
    }

    @Test(arguments: [
        ("dig-aaaa", "www.svc.test. 300 IN AAAA 2001:db8::1"),
        ("dig-mx", "mail.svc.test. 300 IN MX 10 mx.svc.test."),
        ("dig-srv", "_https._tcp.svc.test. 300 IN SRV 10 5 443 www.svc.test."),
        ("dig-ptr", "ptr.svc.test. 300 IN PTR www.svc.test."),
        ("dig-txt", "txt.svc.test. 300 IN TXT \"a b\" \"c\" \"\""),
        ("dig-caa", "svc.test. 300 IN CAA 0 issue \"ca.svc.test\""),
        ("dig-soa", "svc.test. 300 IN SOA ns1.svc.test. admin.svc.test. 2026113001 7200 3600 1209600 300"),
        ("dig-ns", "svc.test. 300 IN NS ns1.svc.test."),
        ("dig-unknown", "opaque.svc.test. 300 IN TYPE65280 \\# 4 0a000001"),
        ("dig-wildcard", "anything.svc.test. 300 IN A 10.8.10.252"),
    ])
    func singleAnswer(name: String, expected: String) throws {
        let (_, response) = try Self.exchange(name)
        #expect(response.header.rcode == .noError)
        #expect(response.answers.map(\.description) == [expected])
        #expect(response.answers == [try ResourceRecord(presentation: expected)])
    }

    @Test func cnameChainCarriesTarget() throws {
        let (_, response) = try Self.exchange("dig-cname")
        #expect(response.answers.map(\.description) == [
            "alias.svc.test. 300 IN CNAME www.svc.test.",
            "www.svc.test. 300 IN A 10.8.10.1",
        ])
    }

    @Test func longTXTIsSplitIntoStrings() throws {
        let (query, response) = try Self.exchange("dig-txt-long")
        #expect(query.edns?.udpPayloadSize == 4096)
        guard case .txt(let txt) = response.answers.first?.data else {
            Issue.record("no TXT answer")
            return
        }
        #expect(txt.strings.map(\.count) == [248, 4])
        #expect(txt.joinedText == String(repeating: "x", count: 248) + "tail")
    }

    @Test func nxdomainHasSOAInAuthority() throws {
        let (_, response) = try Self.exchange("dig-nxdomain")
        #expect(response.header.rcode == .nxDomain)
        #expect(response.answers.isEmpty)
        #expect(response.authority.map(\.type) == [.soa])
    }

    @Test func kdigWithoutEDNS() throws {
        let (query, response) = try Self.exchange("kdig-noedns")
        #expect(query.edns == nil)
        #expect(response.edns == nil)
        #expect(query.header.flags == [.authenticData])
        #expect(response.answers.first?.data == .a(IPv4Address(10, 8, 10, 1)))
    }

    @Test func kdigTSIG() throws {
        let (query, response) = try Self.exchange("kdig-tsig")
        for message in [query, response] {
            let record = try #require(message.additional.last)
            #expect(record.name == "tsig-key.")
            #expect(record.rrClass == .any)
            #expect(record.ttl == 0)
            guard case .tsig(let tsig) = record.data else {
                Issue.record("no TSIG record")
                return
            }
            #expect(tsig.algorithm == "hmac-sha256.")
            #expect(tsig.fudge == 300)
            #expect(tsig.mac.count == 32)
            #expect(tsig.originalID == message.header.id)
            #expect(tsig.error == .noError)
            #expect(tsig.otherData.isEmpty)
        }
        // kdig printed the response's TSIG; ours must print the same.
        #expect(response.additional.last?.data.description == "hmac-sha256. 1796075977 300 32 AsMEoJBQOvHcn+BgOApQNvewziyURfS0sHH4zMMiL6I= 54495 NOERROR 0")
    }
}
