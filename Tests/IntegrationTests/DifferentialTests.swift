import CDNSTestSupport
import DNSWire
import Foundation
import Testing

/// The same zone served by knotd and by cdnsd; every query must get the same
/// reply from both, compared field by field.
@Suite("Differential against knotd", .blocking, .serialized, .enabled(if: Programs.runnable("knotd"), "knotd is not installed (Debian package knot)"))
struct DifferentialTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let type: RRType
        var edns: UInt16? = 1232
        var dnssecOK = false
        var tcp = false

        var description: String { "\(name) \(type) edns=\(edns.map(String.init) ?? "none")\(dnssecOK ? " +do" : "")\(tcp ? " tcp" : "")" }
    }

    /// What must match: rcode, AA, TC, and each section as a set. SOA serials
    /// are zeroed (cdnsd's start from the clock); nothing else is adjusted.
    struct Summary: Equatable, CustomStringConvertible {
        let rcode: ResponseCode
        let aa: Bool
        let tc: Bool
        let question: [String]
        let answer: [String]
        let authority: [String]
        let additional: [String]
        let edns: String?

        init(_ message: DNSMessage) {
            func lines(_ records: [ResourceRecord]) -> [String] {
                records.map { record in
                    var record = record
                    if case .soa(var soa) = record.data {
                        soa.serial = 0
                        record.data = .soa(soa)
                    }
                    return record.description
                }.sorted()
            }
            rcode = message.header.rcode
            aa = message.header.flags.contains(.authoritative)
            tc = message.header.flags.contains(.truncated)
            question = message.questions.map(\.description)
            answer = lines(message.answers)
            authority = lines(message.authority)
            additional = lines(message.additional)
            edns = message.edns.map { "udp=\($0.udpPayloadSize) v=\($0.version) do=\($0.dnssecOK) options=\($0.options.count)" }
        }

        var description: String {
            "\(rcode) aa=\(aa) tc=\(tc) q=\(question)\n  answer=\(answer)\n  authority=\(authority)\n  additional=\(additional)\n  edns=\(edns ?? "none")"
        }
    }

    static let cases: [Case] = {
        var cases: [Case] = [
            // Exact names, every type.
            Case(name: "www.svc.test.", type: .a), Case(name: "www.svc.test.", type: .aaaa),
            Case(name: "ns1.svc.test.", type: .a), Case(name: "svc.test.", type: .soa), Case(name: "svc.test.", type: .ns),
            Case(name: "mail.svc.test.", type: .mx), Case(name: "_https._tcp.svc.test.", type: .srv),
            Case(name: "txt.svc.test.", type: .txt), Case(name: "svc.test.", type: .caa), Case(name: "opaque.svc.test.", type: RRType(65280)),
            // Wildcards.
            Case(name: "anything.svc.test.", type: .a), Case(name: "x.y.svc.test.", type: .a), Case(name: "zz.svc.test.", type: .txt),
            Case(name: "zz.svc.test.", type: .mx), Case(name: "q.wc.svc.test.", type: .a), Case(name: "*.svc.test.", type: .a),
            // Empty non-terminals.
            Case(name: "ent.svc.test.", type: .a), Case(name: "b.ent.svc.test.", type: .a), Case(name: "x.ent.svc.test.", type: .a),
            // CNAME chains inside the zone, leaving it, looping, dangling into a wildcard.
            Case(name: "alias.svc.test.", type: .a), Case(name: "alias.svc.test.", type: .cname), Case(name: "alias.svc.test.", type: .txt),
            Case(name: "out.svc.test.", type: .a), Case(name: "loop1.svc.test.", type: .a), Case(name: "dangling.svc.test.", type: .a),
            // Delegation with glue.
            Case(name: "sub.svc.test.", type: .ns), Case(name: "foo.sub.svc.test.", type: .a), Case(name: "ns.sub.svc.test.", type: .a),
            Case(name: "sub.svc.test.", type: .a),
            // NODATA and NXDOMAIN.
            Case(name: "www.svc.test.", type: .mx), Case(name: "www.svc.test.", type: .txt), Case(name: "nope.ns1.svc.test.", type: .a),
            Case(name: "nope.ns1.svc.test.", type: .txt, edns: nil),
            // Outside the zone.
            Case(name: "example.com.", type: .a), Case(name: "test.", type: .soa), Case(name: "svc.test.example.", type: .a), Case(name: ".", type: .ns),
            // ANY.
            Case(name: "www.svc.test.", type: .any), Case(name: "svc.test.", type: .any), Case(name: "alias.svc.test.", type: .any),
            Case(name: "ent.svc.test.", type: .any), Case(name: "zz.svc.test.", type: .any),
            // Mixed case.
            Case(name: "WwW.SvC.TeSt.", type: .a), Case(name: "AnYtHiNg.svc.TEST.", type: .a), Case(name: "ALIAS.svc.test.", type: .a),
            Case(name: "NoPe.Ns1.svc.test.", type: .a), Case(name: "SUB.svc.test.", type: .ns),
            // EDNS sizes and the DO bit.
            Case(name: "www.svc.test.", type: .a, edns: nil), Case(name: "www.svc.test.", type: .a, edns: 512),
            Case(name: "www.svc.test.", type: .a, edns: 4096), Case(name: "www.svc.test.", type: .a, dnssecOK: true),
            Case(name: "www.svc.test.", type: .a, edns: 100),
        ]
        // A TXT answer over 512 bytes: TC over UDP when it does not fit, whole over TCP.
        for edns: UInt16? in [nil, 512, 700, 1232, 4096] {
            cases.append(Case(name: "big.svc.test.", type: .txt, edns: edns))
            cases.append(Case(name: "big.svc.test.", type: .txt, edns: edns, tcp: true))
        }
        cases.append(Case(name: "www.svc.test.", type: .a, tcp: true))
        cases.append(Case(name: "svc.test.", type: .any, edns: nil, tcp: true))
        return cases
    }()

    @Test("cdnsd answers every query as knotd does")
    func sameRepliesAsKnot() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let knot = try KnotServer.start(in: directory)
        defer { knot.process.stop() }
        let cdnsd = try CDNSServer.start(toml: DifferentialZone.toml, zone: DifferentialZone.origin, in: directory)
        defer { cdnsd.process.stop() }

        var compared = 0
        for (index, testCase) in Self.cases.enumerated() {
            let query = try DNSMessage(
                header: DNSHeader(id: UInt16(index + 100)),
                questions: [Question(name: try DNSName(testCase.name), type: testCase.type)],
                edns: testCase.edns.map { EDNS(udpPayloadSize: $0, dnssecOK: testCase.dnssecOK) }).encode()
            func ask(_ port: UInt16) throws -> DNSMessage {
                try DNSMessage(decoding: testCase.tcp ? TestDNSClient.tcp(query, port: port) : TestDNSClient.udp(query, port: port))
            }
            let fromKnot = try ask(knot.port)
            let fromCDNS = try ask(cdnsd.port)
            #expect(fromCDNS.header.id == fromKnot.header.id)
            let expected = Summary(fromKnot)
            let actual = Summary(fromCDNS)
            #expect(actual == expected, "\(testCase)\n knotd: \(expected)\n cdnsd: \(actual)")
            compared += 1
        }
        #expect(compared == Self.cases.count)
        // The TC cases really were truncated, and TCP really carried the whole answer.
        let bigUDP = try DNSMessage(decoding: TestDNSClient.udp(try DNSMessage(header: DNSHeader(id: 1), questions: [Question(name: "big.svc.test.", type: .txt)]).encode(), port: cdnsd.port))
        #expect(bigUDP.header.flags.contains(.truncated) && bigUDP.answers.isEmpty)
        let bigTCP = try DNSMessage(decoding: TestDNSClient.tcp(try DNSMessage(header: DNSHeader(id: 1), questions: [Question(name: "big.svc.test.", type: .txt)]).encode(), port: cdnsd.port))
        #expect(!bigTCP.header.flags.contains(.truncated) && bigTCP.answers.count == 3)
    }
}
