import DNSWire
import Testing
import ZoneStore

/// The authoritative lookup against a zone that exercises every branch of
/// RFC 1034 §4.3.2 and RFC 4592.
@Suite("Lookup")
struct LookupTests {
    static let zone = ZoneConfiguration(
        origin: "svc.test.", nameservers: ["ns1.svc.test.", "ns2.elsewhere.example."], admin: "admin.svc.test.",
        ttl: 3600, negativeTTL: 60, serial: 7,
        records: [
            "ns1.svc.test. 300 A 127.0.0.1",
            "www.svc.test. 300 A 10.8.10.1",
            "www.svc.test. 300 AAAA 2001:db8::1",
            "mail.svc.test. 300 MX 10 www.svc.test.",
            "alias.svc.test. 300 CNAME alias2.svc.test.",
            "alias2.svc.test. 300 CNAME www.svc.test.",
            "out.svc.test. 300 CNAME target.outside.example.",
            "loop1.svc.test. 300 CNAME loop2.svc.test.",
            "loop2.svc.test. 300 CNAME loop1.svc.test.",
            "dangling.svc.test. 300 CNAME nothere.svc.test.",
            "gone.svc.test. 300 CNAME x.ent.svc.test.",
            "a.b.ent.svc.test. 300 A 10.0.0.1",
            "sub.svc.test. 300 NS ns.sub.svc.test.",
            "ns.sub.svc.test. 300 A 10.0.0.53",
            "*.svc.test. 300 A 10.8.10.252",
            "*.wc.svc.test. 300 CNAME www.svc.test.",
            "other.svc.test. 300 CNAME www.second.test.",
        ].map { try! ResourceRecord(presentation: $0) })
    static let second = ZoneConfiguration(
        origin: "second.test.", nameservers: ["ns1.svc.test."], admin: "admin.svc.test.",
        records: [try! ResourceRecord(presentation: "www.second.test. 60 A 192.0.2.2")])

    let snapshot: ZoneSnapshot

    init() async throws {
        snapshot = (try await ZoneRecordStore(zones: [Self.zone, Self.second])).snapshot()
    }

    func names(_ rrsets: [AnswerRRset]) -> [String] { rrsets.flatMap(\.records).map(\.description) }

    @Test func exactMatch() {
        let answer = snapshot.lookup("www.svc.test.", type: .aaaa)
        #expect(answer.rcode == .noError && answer.authoritative)
        #expect(names(answer.answer) == ["www.svc.test. 300 IN AAAA 2001:db8::1"])
        #expect(answer.authority.isEmpty && answer.additional.isEmpty)
    }

    @Test func wildcardSynthesisUsesTheQueryName() {
        let answer = snapshot.lookup("Anything.svc.test.", type: .a)
        #expect(names(answer.answer) == ["Anything.svc.test. 300 IN A 10.8.10.252"])
        // Deeper names under a missing label still match *.svc.test.
        #expect(names(snapshot.lookup("x.y.svc.test.", type: .a).answer) == ["x.y.svc.test. 300 IN A 10.8.10.252"])
    }

    @Test("an empty non-terminal is NODATA and blocks the wildcard above it")
    func emptyNonTerminal() {
        let ent = snapshot.lookup("ent.svc.test.", type: .a)
        #expect(ent.rcode == .noError && ent.answer.isEmpty)
        #expect(names(ent.authority) == ["svc.test. 60 IN SOA ns1.svc.test. admin.svc.test. 7 7200 3600 1209600 60"])
        let below = snapshot.lookup("x.ent.svc.test.", type: .a)
        #expect(below.rcode == .nxDomain)
    }

    @Test func nodataAndNxdomainCarryTheSOAWithNegativeTTL() {
        let nodata = snapshot.lookup("www.svc.test.", type: .mx)
        #expect(nodata.rcode == .noError && nodata.answer.isEmpty)
        #expect(nodata.authority.first?.records.first?.ttl == 60)
        let nxdomain = snapshot.lookup("nope.ns1.svc.test.", type: .a)
        #expect(nxdomain.rcode == .nxDomain && nxdomain.authoritative)
        #expect(nxdomain.authority.first?.rrset.type == .soa)
    }

    @Test func cnameChainsInsideTheZone() {
        let answer = snapshot.lookup("alias.svc.test.", type: .a)
        #expect(names(answer.answer) == [
            "alias.svc.test. 300 IN CNAME alias2.svc.test.",
            "alias2.svc.test. 300 IN CNAME www.svc.test.",
            "www.svc.test. 300 IN A 10.8.10.1",
        ])
        #expect(names(snapshot.lookup("alias.svc.test.", type: .cname).answer) == ["alias.svc.test. 300 IN CNAME alias2.svc.test."])
    }

    @Test func cnameChainsIntoAnotherOfOurZones() {
        let answer = snapshot.lookup("other.svc.test.", type: .a)
        #expect(names(answer.answer) == ["other.svc.test. 300 IN CNAME www.second.test.", "www.second.test. 60 IN A 192.0.2.2"])
    }

    @Test func cnameLeavingOurZonesStops() {
        let answer = snapshot.lookup("out.svc.test.", type: .a)
        #expect(answer.rcode == .noError)
        #expect(names(answer.answer) == ["out.svc.test. 300 IN CNAME target.outside.example."])
    }

    @Test func cnameLoopsEnd() {
        let answer = snapshot.lookup("loop1.svc.test.", type: .a)
        #expect(answer.answer.count == 2)
    }

    @Test func cnameToMissingNameGivesNxdomainWithTheChain() {
        let answer = snapshot.lookup("gone.svc.test.", type: .a)
        #expect(answer.rcode == .nxDomain)
        #expect(answer.answer.count == 1)
        #expect(answer.authority.first?.rrset.type == .soa)
    }

    @Test func wildcardCNAME() {
        let answer = snapshot.lookup("q.wc.svc.test.", type: .a)
        #expect(names(answer.answer) == ["q.wc.svc.test. 300 IN CNAME www.svc.test.", "www.svc.test. 300 IN A 10.8.10.1"])
    }

    @Test func delegationIsAReferralWithGlue() {
        for name: DNSName in ["sub.svc.test.", "deep.below.sub.svc.test.", "ns.sub.svc.test."] {
            let answer = snapshot.lookup(name, type: .a)
            #expect(!answer.authoritative)
            #expect(answer.rcode == .noError && answer.answer.isEmpty)
            #expect(names(answer.authority) == ["sub.svc.test. 300 IN NS ns.sub.svc.test."])
            #expect(names(answer.additional) == ["ns.sub.svc.test. 300 IN A 10.0.0.53"])
        }
    }

    @Test func apexNSAndMXGetAdditionalAddresses() {
        let ns = snapshot.lookup("svc.test.", type: .ns)
        #expect(ns.answer.first?.records.count == 2)
        #expect(names(ns.additional) == ["ns1.svc.test. 300 IN A 127.0.0.1"])
        let mx = snapshot.lookup("mail.svc.test.", type: .mx)
        #expect(names(mx.additional) == ["www.svc.test. 300 IN A 10.8.10.1", "www.svc.test. 300 IN AAAA 2001:db8::1"])
    }

    @Test("ANY gets one RRset, the lowest type (RFC 8482, as Knot)")
    func minimalAny() {
        #expect(snapshot.lookup("www.svc.test.", type: .any).answer.map(\.rrset.type) == [.a])
        #expect(snapshot.lookup("svc.test.", type: .any).answer.map(\.rrset.type) == [.ns])
        #expect(snapshot.lookup("alias.svc.test.", type: .any).answer.map(\.rrset.type) == [.cname])
    }

    @Test func outsideOurZonesIsRefused() {
        for name: DNSName in ["example.com.", "test.", "."] {
            let answer = snapshot.lookup(name, type: .a)
            #expect(answer.rcode == .refused && !answer.authoritative && answer.answer.isEmpty)
        }
    }
}
