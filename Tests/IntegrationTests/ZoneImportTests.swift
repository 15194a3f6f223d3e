import CDNSTestSupport
import DNSServer
import DNSWire
import Foundation
import Testing

/// `cdnsd zone import`: AXFR in from a real knotd primary with TSIG, and
/// RFC 1035 zone files, into the running daemon's store.
@Suite("zone import", .blocking, .serialized)
struct ZoneImportTests {
    static let legacy = """
        $ORIGIN legacy.test.
        $TTL 300
        @       IN SOA ns1 hostmaster ( 2024010101 7200 3600 1209600 300 )
                NS ns1
                NS ns2.elsewhere.example.
        ns1     A 127.0.0.1
        www     CNAME ns1
        mail    MX 10 ns1
        txt     TXT "migrated from knotd"
        *.apps  A 10.1.2.3
        """

    /// The records `port` answers for `name` and `type`.
    static func answers(_ name: DNSName, _ type: RRType, port: UInt16) throws -> [String] {
        let reply = try DNSMessage(decoding: TestDNSClient.udp(try DNSMessage(header: DNSHeader(id: 3), questions: [Question(name: name, type: type)]).encode(), port: port))
        return reply.answers.map { "\($0.type) \($0.data)" }
    }

    @Test("--axfr from a knotd primary with a TSIG key (every message verified) makes legacy.test a served zone with the primary's serial; a wrong key fails and changes nothing",
          .enabled(if: Programs.runnable("knotd")))
    func axfrFromKnot() async throws {
        let knotd = try Programs.require("knotd")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        try cdnsd.start()
        defer { cdnsd.stop() }
        let added = try cdnsd.command(["tsig", "add", "legacy-key", "--transfer"])
        let secret = try #require(added.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count))
        let wrong = try cdnsd.command(["tsig", "add", "other-key", "--transfer"])
        #expect(wrong.status == 0)

        let port = try TestDNSClient.freePort()
        let root = directory.url.appendingPathComponent("knot-primary").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        _ = try directory.file("knot-primary/legacy.test.zone", Self.legacy + "\n" + (0..<3000).map { "bulk\($0) TXT \"\(String(repeating: "z", count: 50))\"" }.joined(separator: "\n") + "\n")
        let configuration = try directory.file("knot-primary.conf", """
            server:
                listen: 127.0.0.1@\(port)
                rundir: \(root)
            database:
                storage: \(root)/db
            key:
              - id: legacy-key
                algorithm: hmac-sha256
                secret: \(secret)
            acl:
              - id: transfer_out
                address: 127.0.0.1
                key: legacy-key
                action: transfer
            template:
              - id: default
                storage: \(root)
                semantic-checks: off
            zone:
              - domain: legacy.test
                file: \(root)/legacy.test.zone
                acl: transfer_out
            log:
              - target: stderr
                any: info
            """)
        let knot = try ManagedProcess(knotd, ["-c", configuration], directory: directory)
        defer { knot.stop() }
        try await waitUntil("knotd serving legacy.test", timeout: 20) { TestDNSClient.serial("legacy.test.", port: port) == 2024010101 }

        let refused = try cdnsd.command(["zone", "import", "--axfr", "127.0.0.1:\(port)", "legacy.test", "--key", "other-key"])
        #expect(refused.status != 0 && refused.output.contains("AXFR of legacy.test. from"), "\(refused.output)")
        let imported = try cdnsd.command(["zone", "import", "--axfr", "127.0.0.1:\(port)", "legacy.test", "--key", "legacy-key"])
        #expect(imported.status == 0 && imported.output.contains("imported legacy.test.: 3005 records") && imported.output.contains("(new zone)"), "\(imported.output)")
        #expect(knot.output.contains("AXFR, outgoing") , "\(knot.output.suffix(1500))")

        let dnsPort = cdnsd.dnsPort
        try await waitUntil("the daemon serves legacy.test", timeout: 10) { TestDNSClient.serial("legacy.test.", port: dnsPort) == 2024010101 }
        #expect(try Self.answers("www.legacy.test.", .cname, port: dnsPort) == ["CNAME ns1.legacy.test."])
        #expect(try Self.answers("x.apps.legacy.test.", .a, port: dnsPort) == ["A 10.1.2.3"])
        #expect(try Set(Self.answers("legacy.test.", .ns, port: dnsPort)) == ["NS ns1.legacy.test.", "NS ns2.elsewhere.example."])
        #expect(try TestDNSClient.txtValues("bulk2999.legacy.test.", port: dnsPort) == [String(repeating: "z", count: 50)])
    }

    @Test("a zone file into a configured zone: its records become runtime records in one change (one serial step), a second import replaces them; config records stay; a bad file names its line",
          .enabled(if: Programs.runnable("curl")))
    func fileIntoConfiguredZone() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        try cdnsd.start()
        defer { cdnsd.stop() }
        let port = cdnsd.dnsPort
        let before = try #require(TestDNSClient.serial("svc.test.", port: port))
        let first = try directory.file("svc.test.zone", """
            $ORIGIN svc.test.
            @ 3600 IN SOA ns.svc.test. admin.svc.test. 77 7200 3600 1209600 300
              IN NS ns.svc.test.
            ns   A 127.0.0.1          ; the configuration's own record
            one  A 10.0.0.1
            two  TXT ( "split over"
                       "two lines" )
            """)
        let imported = try cdnsd.command(["zone", "import", first])
        #expect(imported.status == 0 && imported.output.contains("imported svc.test.: 3 records") && !imported.output.contains("new zone"), "\(imported.output)")
        try await waitUntil("one.svc.test served", timeout: 10) { TestDNSClient.serial("svc.test.", port: port) != before }
        #expect(TestDNSClient.serial("svc.test.", port: port) == before &+ 1, "one import, one serial step")
        #expect(try Self.answers("one.svc.test.", .a, port: port) == ["A 10.0.0.1"])
        #expect(try TestDNSClient.txtValues("two.svc.test.", port: port) == ["split overtwo lines"])

        let second = try directory.file("second.zone", "svc.test. SOA ns.svc.test. admin.svc.test. 78 1 1 1 1\nthree.svc.test. A 10.0.0.3\n")
        #expect(try cdnsd.command(["zone", "import", second, "--origin", "svc.test"]).status == 0)
        try await waitUntil("three.svc.test served", timeout: 10) { try Self.answers("three.svc.test.", .a, port: port) == ["A 10.0.0.3"] }
        // (*.svc.test. A 10.8.10.252 of the configuration answers for names without records.)
        #expect(try Self.answers("one.svc.test.", .a, port: port) == ["A 10.8.10.252"], "replaced by the second import")
        #expect(try Self.answers("ns.svc.test.", .a, port: port) == ["A 127.0.0.1"], "configuration records stay")

        let bad = try directory.file("bad.zone", "svc.test. SOA ns admin 1 1 1 1 1\nfour A 10.0.0.4\nfive A 999.0.0.1\n")
        let failed = try cdnsd.command(["zone", "import", bad, "--origin", "svc.test"])
        #expect(failed.status != 0 && failed.output.contains("line 3"), "\(failed.output)")
        #expect(try Self.answers("four.svc.test.", .a, port: port) == ["A 10.8.10.252"], "nothing of a bad file is imported")
    }
}
