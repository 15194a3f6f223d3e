import CDNSTestSupport
import DNSServer
import DNSWire
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// cdnsd as the hidden primary of real knotd and nsd secondaries on
/// loopback: initial AXFR, NOTIFY + IXFR for every change, TSIG on every
/// transfer message, and transfers refused without the zone's ACL.
@Suite("Zone transfer to knotd and nsd", .blocking, .serialized)
struct ZoneTransferTests {
    static let zone: DNSName = "svc.test."
    static let keyName = "xfr-key"
    /// Enough records that an AXFR takes several 64 KiB messages.
    static let bulk = (0..<2500).map { "host\($0).bulk.svc.test. TXT \\\"\(String(repeating: "x", count: 40))-\($0)\\\"" }

    /// cdnsd with svc.test transferable from 127.0.0.1 with the transfer
    /// key, notifying both secondaries; other.test has no transfer table.
    struct Setup {
        var cdnsd: ChallengeDaemon
        var secret = ""
        let knotPort: UInt16
        let nsdPort: UInt16

        init(in directory: TemporaryDirectory) throws {
            cdnsd = try ChallengeDaemon(in: directory)
            knotPort = try TestDNSClient.freePort()
            nsdPort = try TestDNSClient.freePort()
            cdnsd.svcZoneLines = [
                "transfer = { allow = [\"127.0.0.1/32\"], keys = [\"\(ZoneTransferTests.keyName)\"] }",
                "notify = [\"127.0.0.1:\(knotPort)\", \"127.0.0.1:\(nsdPort)\"]",
            ]
            try cdnsd.start(svc: ZoneTransferTests.bulk)
        }

        var credential: TSIGCredential {
            TSIGCredential(name: try! DNSName(ZoneTransferTests.keyName), algorithm: .hmacSHA256, secret: Base64.decode(secret) ?? [])
        }

        /// `cdnsd tsig add xfr-key --transfer`, then waits until the daemon knows it.
        mutating func addTransferKey() async throws {
            let added = try cdnsd.command(["tsig", "add", ZoneTransferTests.keyName, "--transfer"])
            #expect(added.status == 0, "\(added.output)")
            #expect(added.output.contains("request-xfr:") && added.output.contains("remote:"), "\(added.output)")
            secret = String(try #require(added.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count)))
            let listed = try cdnsd.command(["tsig", "list"])
            #expect(listed.output.contains("\(ZoneTransferTests.keyName).\thmac-sha256") && listed.output.contains("scope=transfer"), "\(listed.output)")
            let credential = credential
            let port = cdnsd.dnsPort
            try await waitUntil("transfer key known to the daemon", timeout: 30) {
                let query = try DNSMessage(header: DNSHeader(id: 1), questions: [Question(name: ZoneTransferTests.zone, type: .soa)]).encode()
                let signed = TSIGSigner(credential: credential).sign(request: query, time: UInt64(Date().timeIntervalSince1970))
                return try DNSMessage(decoding: try TestDNSClient.udp(signed.message, port: port)).header.rcode == .noError
            }
        }

        var key: SecondaryKey { SecondaryKey(name: ZoneTransferTests.keyName, secret: secret) }
        var log: String { cdnsd.process?.output ?? "" }
    }

    @Test("knotd and nsd load svc.test by signed AXFR, then follow challenge writes (acme-dns /update, httpreq /present and /cleanup) by NOTIFY + IXFR, also across a cdnsd restart",
          .enabled(if: Programs.runnable("knotd", "nsd", "curl")))
    func secondariesFollow() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var setup = try Setup(in: directory)
        defer { setup.cdnsd.stop() }
        try await setup.addTransferKey()
        let knot = try KnotSecondary.start(zone: "svc.test", port: setup.knotPort, primaryPort: setup.cdnsd.dnsPort, key: setup.key, in: directory)
        defer { knot.process.stop() }
        let nsd = try NSDSecondary.start(zone: "svc.test", port: setup.nsdPort, primaryPort: setup.cdnsd.dnsPort, key: setup.key, in: directory)
        defer { nsd.process.stop() }

        let primarySerial = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        try await waitUntil("knotd and nsd at the primary's serial \(primarySerial)", timeout: 30) {
            TestDNSClient.serial(Self.zone, port: knot.port) == primarySerial && TestDNSClient.serial(Self.zone, port: nsd.port) == primarySerial
        }
        #expect(setup.log.contains("kind=axfr"), "\(setup.log.suffix(3000))")
        #expect(try TestDNSClient.txtValues("host2499.bulk.svc.test.", port: knot.port) == ["\(String(repeating: "x", count: 40))-2499"])
        #expect(try TestDNSClient.txtValues("host2499.bulk.svc.test.", port: nsd.port) == ["\(String(repeating: "x", count: 40))-2499"])

        // acme-dns: register, then /update; each value reaches both secondaries.
        let registered = try Curl.post("\(setup.cdnsd.apiURL)/register", json: "{}")
        #expect(registered.status == 201, "\(registered)")
        let account = try #require(try JSONSerialization.jsonObject(with: Data(registered.body.utf8)) as? [String: Any])
        let user = try #require(account["username"] as? String)
        let password = try #require(account["password"] as? String)
        let subdomain = try #require(account["subdomain"] as? String)
        let fulldomain = try DNSName(try #require(account["fulldomain"] as? String))
        var latencies: [(knot: Double, nsd: Double)] = []
        for round in 0..<10 {
            let value = String(format: "%043d", round)
            let (status, replied) = try RawHTTP.post(port: setup.cdnsd.apiPort, path: "/update", body: "{\"subdomain\":\"\(subdomain)\",\"txt\":\"\(value)\"}",
                                                     headers: ["X-Api-User: \(user)", "X-Api-Key: \(password)"])
            #expect(status == 200)
            latencies.append(try Self.timeUntil(value, at: fulldomain, ports: (knot.port, nsd.port), since: replied))
            // knotd starts at most one refresh a second per zone (seen with
            // strace: a NOTIFY within a second of its last refresh waits for
            // that second to pass), so rounds are a little apart, as a CA's
            // validations are.
            usleep(300_000)
        }
        let knotTimes = latencies.map(\.knot).sorted()
        let nsdTimes = latencies.map(\.nsd).sorted()
        print("zone transfer: /update reply to value answered, knotd median \(Self.ms(knotTimes[knotTimes.count / 2])) max \(Self.ms(knotTimes.last!)); nsd median \(Self.ms(nsdTimes[nsdTimes.count / 2])) max \(Self.ms(nsdTimes.last!))")
        if (knotTimes.last ?? 0) > 0.5 || (nsdTimes.last ?? 0) > 0.5 {
            print("zone transfer rounds, knotd/nsd: \(latencies.map { "\(Self.ms($0.knot))/\(Self.ms($0.nsd))" })")
        }
        #expect(setup.log.contains("kind=ixfr"), "\(setup.log.suffix(3000))")
        #expect(setup.log.contains("NOTIFY acknowledged"))
        #expect(knot.process.output.contains("IXFR"), "\(knot.process.output.suffix(2000))")

        // httpreq: /present then /cleanup; both secondaries see the value come and go.
        let added = try setup.cdnsd.command(["credential", "add", "lego", "--allow", "*.svc.test", "--from", "127.0.0.0/8"])
        let secret = try #require(added.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count))
        let basic = "Authorization: Basic " + Data("lego:\(secret)".utf8).base64EncodedString()
        let challenge: DNSName = "_acme-challenge.www.svc.test."
        let value = "httpreq-value-0123456789-0123456789-abcdefg"
        try await waitUntil("credential known to the daemon", timeout: 30) {
            try RawHTTP.post(port: setup.cdnsd.apiPort, path: "/present", body: "{\"fqdn\":\"\(challenge)\",\"value\":\"\(value)\"}", headers: [basic]).status == 200
        }
        try await waitUntil("present value on both secondaries") {
            try TestDNSClient.txtValues(challenge, port: knot.port) == [value] && TestDNSClient.txtValues(challenge, port: nsd.port) == [value]
        }
        #expect(try RawHTTP.post(port: setup.cdnsd.apiPort, path: "/cleanup", body: "{\"fqdn\":\"\(challenge)\",\"value\":\"\(value)\"}", headers: [basic]).status == 200)
        try await waitUntil("value removed on both secondaries") {
            try TestDNSClient.txtValues(challenge, port: knot.port).isEmpty && TestDNSClient.txtValues(challenge, port: nsd.port).isEmpty
        }

        // Restart cdnsd: the serial keeps increasing and the secondaries
        // still get IXFR from the persisted journal.
        let before = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        setup.cdnsd.stop()
        try setup.cdnsd.start(svc: Self.bulk)
        let after = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        #expect(!SerialNumber.isBefore(after, before))
        let restartedValue = String(repeating: "r", count: 43)
        let (status, replied) = try RawHTTP.post(port: setup.cdnsd.apiPort, path: "/update", body: "{\"subdomain\":\"\(subdomain)\",\"txt\":\"\(restartedValue)\"}",
                                                 headers: ["X-Api-User: \(user)", "X-Api-Key: \(password)"])
        #expect(status == 200)
        _ = try Self.timeUntil(restartedValue, at: fulldomain, ports: (knot.port, nsd.port), since: replied)
        let newSerial = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        #expect(SerialNumber.isBefore(before, newSerial))
        #expect(setup.log.components(separatedBy: "kind=ixfr ").count > 1, "after restart: \(setup.log.suffix(3000))")
    }

    @Test("dig AXFR: REFUSED unsigned, from a disallowed address, for a zone without a transfer table and with an unknown key; the whole zone with the key over many signed messages; NOTIMP over UDP; IXFR over UDP",
          .enabled(if: Programs.runnable("dig", "kzonecheck")))
    func digTransfers() async throws {
        let dig = try Programs.require("dig")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var setup = try Setup(in: directory)
        defer { setup.cdnsd.stop() }
        try await setup.addTransferKey()
        let port = "\(setup.cdnsd.dnsPort)"
        let y = "hmac-sha256:\(Self.keyName):\(setup.secret)"

        let unsigned = try ManagedProcess.run(dig, ["@127.0.0.1", "-p", port, "svc.test", "AXFR"])
        #expect(unsigned.output.contains("Transfer failed"), "\(unsigned.output)")
        let rcode = try DNSMessage(decoding: TestDNSClient.tcp(try DNSMessage(header: DNSHeader(id: 7), questions: [Question(name: Self.zone, type: .axfr)]).encode(), port: setup.cdnsd.dnsPort)).header.rcode
        #expect(rcode == .refused)
        let elsewhere = try ManagedProcess.run(dig, ["-b", "127.0.0.2", "-y", y, "@127.0.0.1", "-p", port, "svc.test", "AXFR"])
        #expect(elsewhere.output.contains("Transfer failed"), "\(elsewhere.output)")
        let noTable = try ManagedProcess.run(dig, ["-y", y, "@127.0.0.1", "-p", port, "other.test", "AXFR"])
        #expect(noTable.output.contains("Transfer failed"), "\(noTable.output)")
        let wrongKey = try ManagedProcess.run(dig, ["-y", "hmac-sha256:\(Self.keyName):\(Base64.encode([UInt8](repeating: 7, count: 32)))", "@127.0.0.1", "-p", port, "svc.test", "AXFR"])
        #expect(!wrongKey.output.contains("XFR size"), "\(wrongKey.output)")
        #expect(setup.log.contains("zone transfer refused"))

        let signed = try ManagedProcess.run(dig, ["-y", y, "@127.0.0.1", "-p", port, "+onesoa", "+nocomments", "+nostats", "svc.test", "AXFR"])
        #expect(!signed.output.contains("failed") && !signed.output.contains("tsig verify"), "\(signed.output.prefix(2000))")
        let full = try ManagedProcess.run(dig, ["-y", y, "@127.0.0.1", "-p", port, "svc.test", "AXFR"])
        let messages = full.output.split(separator: "\n").first { $0.contains("XFR size:") }
        print("dig AXFR: \(messages ?? "?")")
        #expect(full.output.contains("host2499.bulk.svc.test."), "\(full.output.suffix(1000))")
        // More than one message, each signed (dig checks every TSIG in the chain).
        #expect(messages?.contains("XFR size: 2505 records (messages 3,") == true, "\(messages ?? full.output.suffix(500))")
        let zoneFile = try directory.file("svc.test.axfr", signed.output.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.isEmpty && !$0.contains("TSIG") }.joined(separator: "\n") + "\n")
        let verify = try ManagedProcess.run(try Programs.require("kzonecheck"), ["-o", "svc.test", zoneFile])
        #expect(verify.status == 0, "kzonecheck: \(verify.output)")

        // AXFR over UDP: NOTIMP, as knotd and nsd answer it.
        let udpAXFR = try DNSMessage(decoding: TestDNSClient.udp(try DNSMessage(header: DNSHeader(id: 8), questions: [Question(name: Self.zone, type: .axfr)]).encode(), port: setup.cdnsd.dnsPort))
        #expect(udpAXFR.header.rcode == .notImp)
        // IXFR over UDP from an old serial: the whole zone does not fit, so the SOA alone (RFC 1995 §2).
        let serial = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        let old = ResourceRecord(name: Self.zone, ttl: 0, data: .soa(SOA(mname: Self.zone, rname: Self.zone, serial: serial &- 5, refresh: 0, retry: 0, expire: 0, minimum: 0)))
        let ixfrQuery = DNSMessage(header: DNSHeader(id: 10), questions: [Question(name: Self.zone, type: .ixfr)], authority: [old])
        let signedIXFR = TSIGSigner(credential: setup.credential).sign(request: try ixfrQuery.encode(), time: UInt64(Date().timeIntervalSince1970))
        let udpIXFR = try DNSMessage(decoding: TestDNSClient.udp(signedIXFR.message, port: setup.cdnsd.dnsPort))
        #expect(udpIXFR.header.rcode == .noError && udpIXFR.answers.count == 1 && udpIXFR.answers.first?.type == .soa, "\(udpIXFR)")
    }

    @Test("check-config reads transfer and notify, from the file and from CDNS_ZONE_<N>_TRANSFER / _NOTIFY, and names the bad value")
    func configuration() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        func check(_ zoneLines: String, _ environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
            let file = try directory.file("c.toml", "[dns]\nlisten = [\"127.0.0.1:5399\"]\n[[zone]]\nname = \"svc.test\"\n\(zoneLines)\n")
            return try ManagedProcess.run(Programs.cdnsd, ["check-config", "--config", file], environment: environment)
        }
        let good = try check("transfer = { allow = [\"10.0.0.0/8\", \"127.0.0.1/32\"], keys = [\"sec1\"] }\nnotify = [\"10.0.0.2:53\", \"127.0.0.1:5301\"]")
        #expect(good.status == 0, "\(good.output)")
        let badCIDR = try check("transfer = { allow = [\"10.0.0.0/33\"] }")
        #expect(badCIDR.status != 0 && badCIDR.output.contains("zone[0].transfer.allow[0]"), "\(badCIDR.output)")
        let typo = try check("transfer = { allowed = [\"10.0.0.0/8\"] }")
        #expect(typo.status != 0 && typo.output.contains("zone[0].transfer.allowed"), "\(typo.output)")
        let badNotify = try check("", ["CDNS_ZONE_0_NOTIFY": "10.0.0.2"])
        #expect(badNotify.status != 0 && badNotify.output.contains("CDNS_ZONE_0_NOTIFY"), "\(badNotify.output)")
        let fromEnvironment = try check("", ["CDNS_ZONE_0_TRANSFER": "{ allow = [\"127.0.0.1\"], keys = [\"sec1\"] }", "CDNS_ZONE_0_NOTIFY": "127.0.0.1:5301, [::1]:5302"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.output)")
        let badEnvironment = try check("", ["CDNS_ZONE_0_TRANSFER": "allow = 10.0.0.0/8"])
        #expect(badEnvironment.status != 0 && badEnvironment.output.contains("CDNS_ZONE_0_TRANSFER"), "\(badEnvironment.output)")
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }

    /// Seconds from `since` until both secondaries answer `value` at `name`.
    static func timeUntil(_ value: String, at name: DNSName, ports: (UInt16, UInt16), since: Date, timeout: Double = 20) throws -> (knot: Double, nsd: Double) {
        var knot: Double? = nil
        var nsd: Double? = nil
        while knot == nil || nsd == nil {
            let elapsed = Date().timeIntervalSince(since)
            if elapsed > timeout { throw TestSetupError("\(value) at \(name) not on the secondaries within \(timeout)s (knot \(knot as Any), nsd \(nsd as Any))") }
            if knot == nil, (try? TestDNSClient.txtValues(name, port: ports.0))?.contains(value) == true { knot = Date().timeIntervalSince(since) }
            if nsd == nil, (try? TestDNSClient.txtValues(name, port: ports.1))?.contains(value) == true { nsd = Date().timeIntervalSince(since) }
            usleep(1000)
        }
        return (knot ?? 0, nsd ?? 0)
    }
}

/// One HTTP/1.1 POST over a loopback socket, timed to the moment the reply
/// arrives (curl's process start and exit would blur a latency).
enum RawHTTP {
    /// Waits up to `timeout` seconds for the reply: a first request per
    /// account pays bcrypt, and thirty of those at once in a loaded full
    /// run have taken more than 10 s.
    static func post(port: UInt16, path: String, body: String, headers: [String], timeout: Double = 60) throws -> (status: Int, replied: Date) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket() failed") }
        defer { close(fd) }
        TestDNSClient.setTimeout(fd, timeout)
        var target = TestDNSClient.address("127.0.0.1", port)
        let connected = withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestSetupError("cannot connect to the API on \(port)") }
        let request = (["POST \(path) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Content-Type: application/json", "Content-Length: \(body.utf8.count)", "Connection: close"]
            + headers).joined(separator: "\r\n") + "\r\n\r\n" + body
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw TestSetupError("send failed") }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var replied: Date? = nil
        var timedOut = false
        while true {
            let received = recv(fd, &chunk, chunk.count, 0)
            if received < 0 { timedOut = errno == EAGAIN || errno == EWOULDBLOCK }
            if received <= 0 { break }
            if replied == nil { replied = Date() }
            reply += chunk[0..<received]
        }
        let text = String(decoding: reply, as: UTF8.self)
        guard let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap({ Int($0) }), let replied else {
            throw TestSetupError(timedOut ? "no HTTP reply within \(timeout) s: \(text)" : "connection closed without an HTTP reply: \(text)")
        }
        return (status, replied)
    }
}
