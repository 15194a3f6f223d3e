import DNSWire
import Testing

@Suite("Zone files (RFC 1035 §5)")
struct ZoneFileTests {
    static let text = """
        $ORIGIN legacy.test.
        $TTL 1h
        @   IN  SOA ns1 hostmaster (
                    2024010101 ; serial
                    7200 3600
                    1209600 300 )
            IN  NS  ns1
            IN  NS  ns2.elsewhere.example.
        ns1     300 A 192.0.2.1
                    AAAA 2001:db8::1        ; owner carried forward, TTL from $TTL
        www     CNAME ns1
        mail IN 600 MX 10 ns1.legacy.test.
        txt     TXT "a;b" "c ( d"           ; no comment or group inside quotes
        $ORIGIN sub.legacy.test.
        deep    A 192.0.2.9
        @       TXT "apex of sub"
        """

    @Test func directivesRelativeNamesAndCarriedFields() throws {
        let records = try ZoneFile.parse(Self.text, origin: "legacy.test.")
        #expect(records.map(\.description) == [
            "legacy.test. 3600 IN SOA ns1.legacy.test. hostmaster.legacy.test. 2024010101 7200 3600 1209600 300",
            "legacy.test. 3600 IN NS ns1.legacy.test.",
            "legacy.test. 3600 IN NS ns2.elsewhere.example.",
            "ns1.legacy.test. 300 IN A 192.0.2.1",
            "ns1.legacy.test. 3600 IN AAAA 2001:db8::1",
            "www.legacy.test. 3600 IN CNAME ns1.legacy.test.",
            "mail.legacy.test. 600 IN MX 10 ns1.legacy.test.",
            "txt.legacy.test. 3600 IN TXT \"a;b\" \"c ( d\"",
            "deep.sub.legacy.test. 3600 IN A 192.0.2.9",
            "sub.legacy.test. 3600 IN TXT \"apex of sub\"",
        ])
    }

    @Test func withoutTTLDirectiveTheLastTTLCarries() throws {
        let records = try ZoneFile.parse("a 120 A 192.0.2.1\nb A 192.0.2.2\n", origin: "legacy.test.")
        #expect(records.map(\.ttl) == [120, 120])
    }

    @Test(arguments: [
        ("$INCLUDE other.zone\n", "line 1: $INCLUDE"),
        ("@ SOA ns1 admin ( 1 2 3 4 5\n", "never closed"),
        ("@ A 1.2.3.4 )\n", "')' without '('"),
        ("    A 1.2.3.4\n", "without an owner"),
        ("ok A 1.2.3.4\nbad A 300.1.1.1\n", "line 2"),
        ("$GENERATE 1-10 h$ A 10.0.0.$\n", "unknown directive"),
    ])
    func errorsNameTheLine(text: String, message: String) {
        #expect {
            _ = try ZoneFile.parse(text, origin: "legacy.test.")
        } throws: { error in
            "\(error)".contains(message)
        }
    }
}
