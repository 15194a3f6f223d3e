import DNSWire
import Testing

@Suite("Presentation form")
struct PresentationTests {
    @Test(arguments: [
        ("*.svc.dev. 300 IN A 10.8.10.252", "*.svc.dev. 300 IN A 10.8.10.252"),
        ("svc.dev. SOA ns1.svc.dev. admin.svc.dev. 1 7200 3600 1209600 300", "svc.dev. 3600 IN SOA ns1.svc.dev. admin.svc.dev. 1 7200 3600 1209600 300"),
        ("x.svc.dev. TXT \"a b\" \"c\"", "x.svc.dev. 3600 IN TXT \"a b\" \"c\""),
        ("dns.svc.dev. A 10.8.10.253", "dns.svc.dev. 3600 IN A 10.8.10.253"),
        ("svc.dev. IN 60 MX 10 mail.svc.dev.", "svc.dev. 60 IN MX 10 mail.svc.dev."),
        ("_sip._udp.svc.dev. SRV 1 2 5060 sip.svc.dev.", "_sip._udp.svc.dev. 3600 IN SRV 1 2 5060 sip.svc.dev."),
        ("svc.dev. CAA 0 issue \"ca.svc.dev\"", "svc.dev. 3600 IN CAA 0 issue \"ca.svc.dev\""),
        ("svc.dev. CAA 0 iodef mailto:x@svc.dev", "svc.dev. 3600 IN CAA 0 iodef \"mailto:x@svc.dev\""),
        ("u.svc.dev. TYPE65280 \\# 4 0a000001", "u.svc.dev. 3600 IN TYPE65280 \\# 4 0a000001"),
        ("k.svc.dev. 1h IN A \\# 4 0A000001", "k.svc.dev. 3600 IN A 10.0.0.1"),
        ("v6.svc.dev. AAAA 2001:DB8:0:0:1:0:0:1", "v6.svc.dev. 3600 IN AAAA 2001:db8::1:0:0:1"),
        ("q.svc.dev. TXT \"say \\\"hi\\\"\" plain \"\" ; comment", "q.svc.dev. 3600 IN TXT \"say \\\"hi\\\"\" \"plain\" \"\""),
        ("svc.dev. ( SOA ns1 admin 2 1h 15m 1w 5m )", "svc.dev. 3600 IN SOA ns1. admin. 2 3600 900 604800 300"),
    ])
    func parseAndPrint(input: String, printed: String) throws {
        let record = try ResourceRecord(presentation: input)
        #expect(record.description == printed)
        #expect(try ResourceRecord(presentation: printed) == record)
    }

    @Test func relativeNamesUseOrigin() throws {
        let record = try ResourceRecord(presentation: "www 60 CNAME @", origin: "svc.dev.", defaultTTL: 10)
        #expect(record == ResourceRecord(name: "www.svc.dev.", ttl: 60, data: .cname("svc.dev.")))
    }

    @Test(arguments: [
        "", "x.svc.dev.", "x.svc.dev. A", "x.svc.dev. A 10.0.0", "x.svc.dev. A 10.0.0.1 extra",
        "x.svc.dev. AAAA 1:::2", "x.svc.dev. MX mail.", "x.svc.dev. TXT", "x.svc.dev. TXT \"open",
        "x.svc.dev. CAA 0 bad-tag v", "x.svc.dev. TYPE1 \\# 3 0a0000", "x.svc.dev. A \\# 2 0a00",
        "x.svc.dev. HINFO cpu os", "x.svc.dev. 99999999999 A 1.2.3.4", "x..svc.dev. A 1.2.3.4",
        "x.svc.dev. OPT \\# 0", "x.svc.dev. TXT \"\(String(repeating: "y", count: 256))\"",
    ])
    func rejects(input: String) {
        #expect { try ResourceRecord(presentation: input) } throws: { ($0 as? DNSWireError)?.code == .badPresentation || ($0 as? DNSWireError)?.code == .labelTooLong }
    }

    @Test func addresses() {
        #expect(IPv4Address("10.8.10.252")?.description == "10.8.10.252")
        #expect(IPv4Address("010.0.0.1") == nil)
        #expect(IPv4Address("256.0.0.1") == nil)
        #expect(IPv6Address("::")?.description == "::")
        #expect(IPv6Address("::1")?.description == "::1")
        #expect(IPv6Address("1::")?.description == "1::")
        #expect(IPv6Address("2001:db8:0:0:0:0:2:1")?.description == "2001:db8::2:1")
        #expect(IPv6Address("2001:db8::1:0:0:1")?.description == "2001:db8::1:0:0:1")
        #expect(IPv6Address("::ffff:10.0.0.1")?.description == "::ffff:a00:1")
        #expect(IPv6Address("2001:db8:0:1:1:1:1:1")?.description == "2001:db8:0:1:1:1:1:1")
        #expect(IPv6Address("1:2:3:4:5:6:7:8:9") == nil)
        #expect(IPv6Address(":1") == nil)
        #expect(IPv6Address("1::2::3") == nil)
    }
}
