import CDNSTestSupport
import DNSWire
import Foundation
import Testing

/// The `cdnsd` command as a user runs it: the demo zone, the example
/// configuration, environment overrides, configuration errors and shutdown.
@Suite("cdnsd command", .blocking, .serialized)
struct DaemonTests {
    func ask(_ name: DNSName, _ type: RRType, port: UInt16) throws -> DNSMessage {
        try DNSMessage(decoding: TestDNSClient.udp(DNSMessage(header: DNSHeader(id: 5), questions: [Question(name: name, type: type)]).encode(), port: port))
    }

    @Test("with no configuration file it serves the demo zone")
    func demoZone() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try CDNSServer.start(toml: nil, zone: "demo.test.", in: directory, arguments: [])
        defer { server.process.stop() }
        #expect(try ask("www.demo.test.", .a, port: server.port).answers.map(\.description) == ["www.demo.test. 3600 IN A 10.8.10.252"])
    }

    @Test("Examples/svc.dev.toml serves the Traefik + Step-CA zone")
    func exampleConfiguration() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let example = try String(contentsOf: Programs.repositoryRoot.appendingPathComponent("Examples/svc.dev.toml"), encoding: .utf8)
        let server = try CDNSServer.start(toml: example, zone: "svc.dev.", in: directory)
        defer { server.process.stop() }
        #expect(try ask("whoami.svc.dev.", .a, port: server.port).answers.map(\.description) == ["whoami.svc.dev. 3600 IN A 10.8.10.252"])
        #expect(try ask("ca.svc.dev.", .a, port: server.port).answers.map(\.description) == ["ca.svc.dev. 3600 IN A 10.8.10.254"])
        #expect(try ask("dns.svc.dev.", .a, port: server.port).answers.map(\.description) == ["dns.svc.dev. 3600 IN A 10.8.10.253"])
        #expect(try ask("svc.dev.", .ns, port: server.port).answers.map(\.description) == ["svc.dev. 3600 IN NS dns.svc.dev."])
        let soa = try ask("svc.dev.", .soa, port: server.port)
        guard case .soa(let data)? = soa.answers.first?.data else {
            Issue.record("no SOA")
            return
        }
        #expect(data.mname == "dns.svc.dev." && data.rname == "admin.svc.dev.")
        // A name with a label under the wildcard: NODATA for other types, SOA in authority.
        let nodata = try ask("whoami.svc.dev.", .aaaa, port: server.port)
        #expect(nodata.header.rcode == .noError && nodata.answers.isEmpty && nodata.authority.first?.type == .soa)
        #expect(try ask("google.com.", .a, port: server.port).header.rcode == .refused)
    }

    @Test("an idle TCP connection is closed after [dns] tcp_idle_timeout, and a busy one kept")
    func tcpIdleTimeout() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try CDNSServer.start(toml: nil, zone: "demo.test.", in: directory, arguments: ["serve"], environment: ["CDNS_DNS_TCP_IDLE_TIMEOUT": "1s"])
        defer { server.process.stop() }
        let query = try DNSMessage(header: DNSHeader(id: 9), questions: [Question(name: "www.demo.test.", type: .a)]).encode()
        let connection = try TestDNSClient.TCPConnection(port: server.port)
        #expect(try DNSMessage(decoding: connection.ask(query)).answers.count == 1)
        usleep(500_000)
        #expect(try DNSMessage(decoding: connection.ask(query)).answers.count == 1, "half the timeout later it still answers")
        usleep(2_500_000)
        #expect(connection.isClosedByPeer(), "closed after more than the idle timeout")
    }

    #if os(Linux)
    @Test("[dns] background_nice: every thread but the DNS query threads (UDP and TCP) runs at that nice value, 19 by default, and queries are answered")
    func backgroundNice() throws {
        /// (thread name, nice value) of every thread of `pid`.
        func threads(_ pid: Int32) -> [(String, Int)] {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.compactMap { task in
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
                      let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
                // After the name: state is field 3, nice field 19 of stat(5).
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                guard fields.count > 16, let nice = Int(fields[16]) else { return nil }
                return (String(stat[stat.index(after: open)..<close]), nice)
            }
        }
        func isQueryThread(_ name: String) -> Bool { name.hasPrefix("cdnsd-udp") || name.hasPrefix("cdnsd-tcp") }
        for (environment, nice) in [(["CDNS_DNS_BACKGROUND_NICE": "7"], 7), ([:], 19)] {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let server = try CDNSServer.start(toml: nil, zone: "demo.test.", in: directory, arguments: ["serve"],
                                              environment: environment.merging(["CDNS_DNS_THREADS": "2"]) { $1 }, harnessDefaults: false)
            defer { server.process.stop() }
            let deadline = Date().addingTimeInterval(20)
            var seen = threads(server.process.pid)
            while Date() < deadline, seen.filter({ isQueryThread($0.0) }).count < 4 || seen.contains(where: { !isQueryThread($0.0) && $0.1 != nice }) {
                usleep(100_000)
                seen = threads(server.process.pid)
            }
            let query = seen.filter { isQueryThread($0.0) }
            #expect(query.filter { $0.0.hasPrefix("cdnsd-udp") }.count == 2 && query.filter { $0.0.hasPrefix("cdnsd-tcp") }.count == 2, "\(seen)")
            #expect(query.allSatisfy { $0.1 == 0 }, "the DNS query threads keep nice 0: \(query)")
            let others = seen.filter { !isQueryThread($0.0) }
            #expect(!others.isEmpty && others.allSatisfy { $0.1 == nice }, "\(environment): \(others)")
            #expect(try ask("www.demo.test.", .a, port: server.port).answers.count == 1)
            #expect(try TestDNSClient.tcp(DNSMessage(header: DNSHeader(id: 6), questions: [Question(name: "www.demo.test.", type: .a)]).encode(), port: server.port).count > 12)
            #expect(server.process.output.contains("threads other than the DNS query threads run at a lower priority"))
        }
    }
    #endif

    @Test("SIGTERM stops it gracefully")
    func gracefulShutdown() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try CDNSServer.start(toml: nil, zone: "demo.test.", in: directory, arguments: ["serve"])
        let status = server.process.stop(grace: 10)
        #expect(status == 0)
        #expect(server.process.output.contains("cdnsd stopped"))
    }

    @Test("a configuration error names the file, the key and the value")
    func configurationErrors() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let cases: [(toml: String, key: String, value: String)] = [
            ("[[zone]]\nname = \"svc.dev\"\nrecords = [\"a.svc.dev. A 10.0.0.1\", \"b.svc.dev. A 300.0.0.1\"]", "zone[0].records[1]", "\"b.svc.dev. A 300.0.0.1\""),
            ("[dns]\nlisten = [\"localhost\"]", "dns.listen[0]", "\"localhost\""),
            ("[dns]\nprotocol = \"quic\"", "dns.protocol", "\"quic\""),
            ("[dns]\nlistn = [\"127.0.0.1:53\"]", "dns.listn", "[\"127.0.0.1:53\"]"),
            ("[[zone]]\nname = \"svc.dev\"\nrecords = [\"www.other.dev. A 10.0.0.1\"]", "zone[0].records[0]", "\"www.other.dev. A 10.0.0.1\""),
            ("[log]\nlevel = 3", "log.level", "3"),
            ("[dns]\ntcp_idle_timeout = \"soon\"", "dns.tcp_idle_timeout", "\"soon\""),
            ("[dns\nlisten = 1", "(syntax)", "line 1"),
        ]
        for (index, testCase) in cases.enumerated() {
            let file = try directory.file("bad-\(index).toml", testCase.toml)
            let result = try ManagedProcess.run(Programs.cdnsd, ["check-config", "--config", file])
            #expect(result.status == 78, "\(testCase.toml): \(result.output)")
            #expect(result.output.contains(file), "names the file: \(result.output)")
            #expect(result.output.contains(testCase.key), "names the key \(testCase.key): \(result.output)")
            #expect(result.output.contains(testCase.value), "names the value \(testCase.value): \(result.output)")
        }
        let environment = try ManagedProcess.run(Programs.cdnsd, ["check-config"], environment: ["CDNS_DNS_PROTOCOL": "carrier-pigeon"])
        #expect(environment.status == 78)
        #expect(environment.output.contains("CDNS_DNS_PROTOCOL") && environment.output.contains("carrier-pigeon"))
        let good = try ManagedProcess.run(Programs.cdnsd, ["check-config", "--config", Programs.repositoryRoot.appendingPathComponent("Examples/svc.dev.toml").path])
        #expect(good.status == 0 && good.output.contains("zone svc.dev.: 3 records"))
    }
}
