import DNSWire

/// One record of every type DNSWire knows, plus edge cases of each.
enum Fixtures {
    static let apex: DNSName = "svc.dev."

    static let everyType: [ResourceRecord] = {
        var records: [ResourceRecord] = [
            ResourceRecord(name: "*.svc.dev.", ttl: 300, data: .a(IPv4Address(10, 8, 10, 252))),
            ResourceRecord(name: "www.svc.dev.", ttl: 300, data: .aaaa(IPv6Address("2001:db8::1")!)),
            ResourceRecord(name: "svc.dev.", ttl: 3600, data: .ns("ns1.svc.dev.")),
            ResourceRecord(name: "alias.svc.dev.", ttl: 60, data: .cname("www.svc.dev.")),
            ResourceRecord(name: "1.10.8.10.in-addr.arpa.", ttl: 60, data: .ptr("www.svc.dev.")),
            ResourceRecord(name: "svc.dev.", ttl: 3600, data: .soa(SOA(
                mname: "ns1.svc.dev.", rname: "admin.svc.dev.", serial: 2026113001,
                refresh: 7200, retry: 3600, expire: 1209600, minimum: 300))),
            ResourceRecord(name: "svc.dev.", ttl: 300, data: .mx(MX(preference: 10, exchange: "mail.svc.dev."))),
            ResourceRecord(name: "_https._tcp.svc.dev.", ttl: 300, data: .srv(SRV(priority: 10, weight: 5, port: 443, target: "www.svc.dev."))),
            ResourceRecord(name: "x.svc.dev.", ttl: 60, data: .txt(try! TXT(strings: [Array("a b".utf8), Array("c".utf8)]))),
            ResourceRecord(name: "empty.svc.dev.", ttl: 60, data: .txt(try! TXT(strings: [[], Array("after-empty".utf8), []]))),
            ResourceRecord(name: "long.svc.dev.", ttl: 60, data: .txt(TXT(text: String(repeating: "k", count: 600)))),
            ResourceRecord(name: "binary.svc.dev.", ttl: 60, data: .txt(try! TXT(strings: [[0, 0x22, 0x5C, 0xFF, 0x20]]))),
            ResourceRecord(name: "svc.dev.", ttl: 300, data: .caa(try! CAA(flags: 128, tag: "issue", value: Array("ca.svc.dev; account=1".utf8)))),
            ResourceRecord(name: "tsig-key.", class: .any, ttl: 0, data: .tsig(TSIG(
                algorithm: "hmac-sha256.", timeSigned: 1_796_075_977, fudge: 300,
                mac: Array(0..<32), originalID: 4711, error: .noError, otherData: []))),
            ResourceRecord(name: "tsig-key.", class: .any, ttl: 0, data: .tsig(TSIG(
                algorithm: "hmac-sha512.", timeSigned: 0xFFFF_FFFF_FFFF, fudge: 0,
                mac: [], originalID: 1, error: .badTime, otherData: [0, 0, 0x69, 0x0B, 0x3C, 0x41]))),
            ResourceRecord(name: "opaque.svc.dev.", ttl: 60, data: .opaque(RRType(65280), [0x0A, 0, 0, 1])),
            ResourceRecord(name: "svc.dev.", ttl: 60, data: .opaque(.dnskey, [1, 1, 3, 13, 0xAA, 0xBB])),
            ResourceRecord(name: "gone.svc.dev.", class: .any, ttl: 0, data: .opaque(.txt, [])),
        ]
        records.append(ResourceRecord(name: "esc\\.aped.svc.dev.", ttl: 1, data: .a(IPv4Address(1, 2, 3, 4))))
        return records
    }()
}
