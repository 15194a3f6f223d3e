import CDNSTestSupport
import DNSWire
import Foundation
import Testing

/// What an operator meets first: the configuration parser and its error
/// messages, check-config agreeing with serve, SIGHUP, and metrics.
@Suite("cdnsd operations", .blocking, .serialized)
struct OperationsTests {
    static func checkConfig(_ toml: String?, environment: [String: String] = [:], in directory: TemporaryDirectory) throws -> (status: Int32, output: String, file: String) {
        let file = try toml.map { try directory.file("c-\(UUID().uuidString.prefix(6)).toml", $0) }
        let result = try ManagedProcess.run(Programs.cdnsd, ["check-config"] + (file.map { ["--config", $0] } ?? []), environment: environment)
        return (result.status, result.output, file ?? "")
    }

    // MARK: 6. the configuration parser

    @Test("engine, tls, format and protocol list their valid values when refused")
    func enumsListTheirValues() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let cases = [
            ("[storage]\nengine = \"mysql\"", "storage.engine = \"mysql\"", "\"sqlite\", \"postgres\", \"memory\""),
            ("[api]\ntls = \"yes\"", "api.tls = \"yes\"", "\"none\", \"file\", \"acme\""),
            ("[log]\nformat = \"xml\"", "log.format = \"xml\"", "\"text\", \"json\""),
            ("[dns]\nprotocol = \"quic\"", "dns.protocol = \"quic\"", "\"both\", \"udp\", \"tcp\""),
        ]
        for (toml, key, values) in cases {
            let result = try Self.checkConfig(toml, in: directory)
            #expect(result.status == 78, "\(toml): \(result.output)")
            #expect(result.output.contains(key) && result.output.contains(values), "\(toml): \(result.output)")
        }
        let environment = try Self.checkConfig(nil, environment: ["CDNS_STORAGE_ENGINE": "mysql"], in: directory)
        #expect(environment.status == 78 && environment.output.contains("CDNS_STORAGE_ENGINE") && environment.output.contains("\"postgres\""), "\(environment.output)")
    }

    @Test("durations take TOML integers as seconds; zero, negative and malformed durations are refused")
    func durations() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let good = try Self.checkConfig("[dns]\ntcp_idle_timeout = 5\n[challenge]\nexpire_after = 120", in: directory)
        #expect(good.status == 0, "\(good.output)")
        let units = try Self.checkConfig("[dns]\ntcp_idle_timeout = \"2m\"\n[challenge]\nexpire_after = \"1d\"", in: directory)
        #expect(units.status == 0, "\(units.output)")
        for (toml, key) in [
            ("[challenge]\nexpire_after = 0", "challenge.expire_after = 0"),
            ("[challenge]\nexpire_after = \"0s\"", "challenge.expire_after = \"0s\""),
            ("[challenge]\nexpire_after = -60", "challenge.expire_after = -60"),
            ("[challenge]\nexpire_after = \"-5m\"", "challenge.expire_after = \"-5m\""),
            ("[dns]\ntcp_idle_timeout = 0", "dns.tcp_idle_timeout = 0"),
            ("[dns]\ntcp_idle_timeout = 1.5", "dns.tcp_idle_timeout = 1.5"),
            ("[dns]\nlisten = []", "dns.listen"),
        ] {
            let result = try Self.checkConfig(toml, in: directory)
            #expect(result.status == 78 && result.output.contains(key), "\(toml): \(result.output)")
        }
    }

    @Test("an unknown CDNS_* variable is an error, as an unknown TOML key is")
    func unknownVariables() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let typo = try Self.checkConfig(nil, environment: ["CDNS_DNS_LISTN": "127.0.0.1:5300"], in: directory)
        #expect(typo.status == 78, "\(typo.output)")
        #expect(typo.output.contains("CDNS_DNS_LISTN") && typo.output.contains("CDNS_DNS_LISTEN"), "names it and what was meant: \(typo.output)")
        let section = try Self.checkConfig(nil, environment: ["CDNS_DSN_LISTEN": "127.0.0.1:5300"], in: directory)
        #expect(section.status == 78 && section.output.contains("CDNS_DSN_LISTEN"), "\(section.output)")
        let zone = try Self.checkConfig(nil, environment: ["CDNS_ZONE_0_RECORD": "x"], in: directory)
        #expect(zone.status == 78 && zone.output.contains("CDNS_ZONE_0_RECORDS"), "\(zone.output)")
    }

    @Test("an error names where the offending value was set, not another variable of its section")
    func errorAttribution() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // The bad value is in the file; an unrelated variable of the same section is set.
        let fromFile = try Self.checkConfig("[dns]\ntcp_idle_timeout = \"soon\"", environment: ["CDNS_DNS_PROTOCOL": "udp"], in: directory)
        #expect(fromFile.status == 78)
        #expect(fromFile.output.contains("\(fromFile.file): dns.tcp_idle_timeout"), "\(fromFile.output)")
        #expect(!fromFile.output.contains("CDNS_DNS_PROTOCOL"), "\(fromFile.output)")
        // The bad value is a variable; the file sets other keys of the section.
        let fromVariable = try Self.checkConfig("[dns]\nprotocol = \"udp\"", environment: ["CDNS_DNS_TCP_IDLE_TIMEOUT": "soon"], in: directory)
        #expect(fromVariable.status == 78)
        #expect(fromVariable.output.contains("environment (CDNS_DNS_TCP_IDLE_TIMEOUT): dns.tcp_idle_timeout = \"soon\""), "\(fromVariable.output)")
    }

    @Test("[[zone]] keys come from CDNS_ZONE_<N>_<KEY>: a zone added to the demo, a key of an existing zone overridden")
    func zonesFromTheEnvironment() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try CDNSServer.start(toml: nil, zone: "env.test.", in: directory, arguments: ["serve"], environment: [
            "CDNS_ZONE_0_TTL": "600",
            "CDNS_ZONE_1_NAME": "env.test",
            "CDNS_ZONE_1_NAMESERVERS": "ns.env.test",
            "CDNS_ZONE_1_RECORDS": "www.env.test. A 10.1.2.3, txt.env.test. TXT \"a, b\"",
        ])
        defer { server.process.stop() }
        func ask(_ name: DNSName, _ type: RRType) throws -> [String] {
            try DNSMessage(decoding: TestDNSClient.udp(DNSMessage(header: DNSHeader(id: 3), questions: [Question(name: name, type: type)]).encode(), port: server.port))
                .answers.map(\.description)
        }
        #expect(try ask("www.env.test.", .a) == ["www.env.test. 3600 IN A 10.1.2.3"])
        #expect(try ask("txt.env.test.", .txt).first?.hasSuffix("TXT \"a, b\"") == true, "a comma inside quotes does not split")
        #expect(try ask("www.demo.test.", .a) == ["www.demo.test. 600 IN A 10.8.10.252"], "CDNS_ZONE_0_TTL sets the demo zone's default TTL")
        let gap = try Self.checkConfig(nil, environment: ["CDNS_ZONE_3_NAME": "gap.test"], in: directory)
        #expect(gap.status == 78 && gap.output.contains("CDNS_ZONE_3_NAME"), "\(gap.output)")
    }

    // MARK: 5. check-config rejects what serve rejects

    @Test("check-config refuses, with serve's exit status and message, every configuration serve refuses")
    func checkConfigAgreesWithServe() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let zone = "[[zone]]\nname = \"svc.test\"\nrecords = [\"api.svc.test. A 127.0.0.1\"]\n[storage]\nengine = \"memory\"\n"
        let cases: [(toml: String, key: String)] = [
            (zone + "[api]\ntls = \"acme\"", "api.domain"),
            (zone + "[api]\ntls = \"acme\"\ndomain = \"api.elsewhere.example\"\n[acme]\ndirectory = \"https://127.0.0.1:1/dir\"", "api.domain"),
            (zone + "[api]\ntls = \"acme\"\ndomain = \"api.svc.test\"", "acme.directory"),
            (zone + "[api]\ntls = \"acme\"\ndomain = \"api.svc.test\"\n[acme]\ndirectory = \"https://127.0.0.1:1/dir\"\neab_kid = \"kid-1\"", "acme.eab_kid"),
            (zone + "[api]\ntls = \"acme\"\ndomain = \"api.svc.test\"\n[acme]\ndirectory = \"https://127.0.0.1:1/dir\"\nca_roots = \"/nonexistent/root.pem\"", "acme.ca_roots"),
            ("[[zone]]\nname = \"svc.test\"\n[storage]\nengine = \"postgres\"", "storage.url"),
            ("[[zone]]\nname = \"svc.test\"\n[storage]\nengine = \"postgres\"\nurl = \"mysql://x@y/z\"", "storage.url"),
            (zone + "[api]\ntls = \"file\"\ncert_file = \"/nonexistent/cert.pem\"\nkey_file = \"/nonexistent/key.pem\"", "api.cert_file"),
        ]
        for (index, testCase) in cases.enumerated() {
            let file = try directory.file("serve-\(index).toml", testCase.toml)
            let environment = ["CDNS_DNS_LISTEN": "127.0.0.1:\(try TestDNSClient.freePort())", "CDNS_API_LISTEN": "127.0.0.1:\(try TestDNSClient.freePort())"]
            let check = try ManagedProcess.run(Programs.cdnsd, ["check-config", "--config", file], environment: environment)
            let serve = try ManagedProcess.run(Programs.cdnsd, ["serve", "--config", file], environment: environment, timeout: 15)
            func message(_ output: String) -> String? { output.split(separator: "\n").first { $0.hasPrefix("cdnsd: configuration error:") }.map(String.init) }
            #expect(serve.status == 78, "serve refuses \(testCase.key): \(serve.output)")
            #expect(check.status == 78, "check-config refuses \(testCase.key): \(check.output)")
            #expect(message(check.output) != nil && message(check.output) == message(serve.output), "same message:\n\(check.output)\n\(serve.output)")
            #expect(message(check.output)?.contains(testCase.key) == true, "\(check.output)")
        }
    }

    // MARK: 4. SIGHUP

    @Test("SIGHUP does not end cdnsd without tls = acme; it logs and keeps serving")
    func hangupIsTrapped() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try CDNSServer.start(toml: nil, zone: "demo.test.", in: directory, arguments: ["serve"])
        defer { server.process.stop() }
        kill(server.process.pid, SIGHUP)
        try await waitUntil("SIGHUP is logged", timeout: 5) { server.process.output.contains("SIGHUP received") }
        #expect(server.process.isRunning)
        let reply = try DNSMessage(decoding: TestDNSClient.udp(DNSMessage(header: DNSHeader(id: 4), questions: [Question(name: "www.demo.test.", type: .a)]).encode(), port: server.port))
        #expect(reply.answers.count == 1)
        #expect(server.process.stop(grace: 10) == 0)
    }

    @Test("a SIGHUP during the API certificate's retry back-off retries at once")
    func hangupCutsTheBackOff() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        cdnsd.apiLines = ["tls = \"acme\"", "domain = \"api.svc.test\""]
        // Nothing listens there: every order fails at once and backs off 5 s, 10 s, 20 s…
        cdnsd.sections = "[acme]\ndirectory = \"https://127.0.0.1:\(try TestDNSClient.freePort())/dir\""
        try cdnsd.start(waitForAPI: false)
        defer { cdnsd.stop() }
        let process = try #require(cdnsd.process)
        func failures() -> Int { process.output.components(separatedBy: "ordering the API certificate failed").count - 1 }
        // A refused connection takes AsyncHTTPClient its connect timeout (10 s) to give up on.
        try await waitUntil("two failed orders", timeout: 60) { failures() >= 2 }
        // Now in a 10 s back-off.
        kill(process.pid, SIGHUP)
        try await waitUntil("a retry right after SIGHUP", timeout: 3) { process.output.contains("retrying the API certificate now (SIGHUP)") }
        #expect(process.isRunning)
    }

    // MARK: 8. metrics and the TCP cap

    @Test("BADVERS is counted as BADVERS in /metrics, not as NOERROR; UPDATE answers are counted too")
    func extendedRcodesCounted() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try CDNSServer.start(toml: nil, zone: "demo.test.", in: directory, arguments: ["serve"])
        defer { server.process.stop() }
        try Curl.waitFor("\(server.apiURL)/health", process: server.process)
        let query = try DNSMessage(header: DNSHeader(id: 7), questions: [Question(name: "www.demo.test.", type: .a)], edns: EDNS(version: 1)).encode()
        for _ in 0..<3 {
            #expect(try DNSMessage(decoding: TestDNSClient.udp(query, port: server.port)).header.rcode == .badVers)
        }
        // An UPDATE is answered by the request handler, off the event loop: counted too.
        let update = try DNSMessage(header: DNSHeader(id: 9, opcode: .update), questions: [Question(name: "demo.test.", type: .soa)]).encode()
        let updateRcode = try DNSMessage(decoding: TestDNSClient.udp(update, port: server.port)).header.rcode
        #expect(updateRcode != .noError)
        let lines = try Curl.get("\(server.apiURL)/metrics").body.split(separator: "\n").filter { $0.hasPrefix("cdnsd_dns_queries_total{") }
        let badvers = lines.filter { $0.contains("rcode=\"BADVERS\"") && $0.contains("transport=\"udp\"") }
        #expect(badvers.count == 1 && badvers.first?.hasSuffix(" 3") == true, "\(lines)")
        let updates = lines.filter { $0.contains("rcode=\"\(updateRcode)\"") && $0.contains("transport=\"udp\"") }
        #expect(updates.count == 1 && updates.first?.hasSuffix(" 1") == true, "the UPDATE's \(updateRcode): \(lines)")
        // The readiness probes were NOERROR; nothing else was asked.
        #expect(lines.allSatisfy { $0.contains("rcode=\"BADVERS\"") || $0.contains("rcode=\"NOERROR\"") || $0.contains("rcode=\"\(updateRcode)\"") }, "\(lines)")
    }

    @Test("[dns] rrl_* and max_udp_size reach the wire: answers over the rate are dropped or slipped (TC), counted in /metrics; a large TXT over UDP is TC within max_udp_size")
    func rateLimitingAndUDPSize() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let big = (0..<4).map { "\\\"" + String(repeating: Character(UnicodeScalar(UInt8(97 + $0))), count: 200) + "\\\"" }.joined(separator: " ")
        let toml = """
            [[zone]]
            name = "svc.test"
            nameservers = ["ns1.svc.test"]
            records = ["ns1.svc.test. A 127.0.0.1", "www.svc.test. A 10.0.0.1", "big.svc.test. TXT \(big)"]
            """
        let server = try CDNSServer.start(toml: toml, zone: "svc.test.", in: directory, environment: [
            "CDNS_DNS_RRL_RATE": "5", "CDNS_DNS_RRL_SLIP": "2", "CDNS_DNS_RRL_EXEMPT": "", "CDNS_DNS_MAX_UDP_SIZE": "600",
        ])
        defer { server.process.stop() }
        try Curl.waitFor("\(server.apiURL)/health", process: server.process)

        let large = try DNSMessage(header: DNSHeader(id: 3), questions: [Question(name: "big.svc.test.", type: .txt)], edns: EDNS(udpPayloadSize: 4096)).encode()
        let udp = try DNSMessage(decoding: TestDNSClient.udp(large, port: server.port))
        #expect(udp.header.flags.contains(.truncated) && udp.answers.isEmpty, "an 800-byte TXT does not fit max_udp_size 600")
        #expect(udp.edns?.udpPayloadSize == 600)
        #expect(try DNSMessage(decoding: TestDNSClient.tcp(large, port: server.port)).answers.count == 1)

        // 40 answers asked at once from one source: 5 a second go out whole,
        // every second one over the rate truncated, the others not at all.
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        TestDNSClient.setTimeout(fd, 0.5)
        var target = TestDNSClient.address("127.0.0.1", server.port)
        for id in 0..<40 {
            let query = try DNSMessage(header: DNSHeader(id: UInt16(100 + id)), questions: [Question(name: "www.svc.test.", type: .a)]).encode()
            _ = withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, query, query.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var full = 0, truncated = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let count = recv(fd, &buffer, buffer.count, 0), count > 0 {
            let reply = try DNSMessage(decoding: Array(buffer[0..<count]))
            if reply.header.flags.contains(.truncated) { truncated += 1 } else { full += 1 }
        }
        #expect(full >= 1 && full <= 10, "\(full) whole answers")
        #expect(truncated >= 10 && full + truncated < 40, "\(truncated) truncated of \(full + truncated) replies")
        let metrics = try Curl.get("\(server.apiURL)/metrics").body
        for action in ["slipped", "dropped"] {
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("cdnsd_dns_rrl_limited_total{action=\"\(action)\"}") }
            #expect(line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 10 } == true, "\(action): \(String(describing: line))")
        }
    }

    @Test("[dns] tcp_connections caps open TCP connections over all listen addresses together; a newcomer displaces the longest idle")
    func tcpCapIsServerWide() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = try TestDNSClient.freePort()
        let process = try ManagedProcess(Programs.cdnsd, ["serve"], environment: [
            "CDNS_DNS_LISTEN": "127.0.0.1:\(port),127.0.0.2:\(port)", "CDNS_DNS_TCP_CONNECTIONS": "1",
            "CDNS_API_LISTEN": "", "CDNS_STORAGE_ENGINE": "memory",
        ], directory: directory)
        defer { process.stop() }
        try TestDNSClient.waitUntilServing(port: port, zone: "demo.test.", process: process)
        try await Task.sleep(for: .milliseconds(200))  // the probe's own TCP connection is closed by now
        let query = try DNSMessage(header: DNSHeader(id: 8), questions: [Question(name: "www.demo.test.", type: .a)]).encode()
        let first = try TestDNSClient.TCPConnection(port: port, host: "127.0.0.1")
        #expect(try DNSMessage(decoding: first.ask(query)).answers.count == 1)
        let second = try TestDNSClient.TCPConnection(port: port, host: "127.0.0.2")
        #expect(try DNSMessage(decoding: second.ask(query)).answers.count == 1, "the newcomer on the other address is admitted")
        try await Task.sleep(for: .milliseconds(100))
        #expect(first.isClosedByPeer(), "by closing the one connection open before, on the other address")
        #expect(process.output.contains("TCP connection limit reached"))
    }
}
