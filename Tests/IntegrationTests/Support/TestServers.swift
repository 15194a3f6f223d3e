import DNSWire
import Foundation

/// The zone both servers serve in the differential test, written once and
/// rendered as cdnsd TOML and as a Knot zone file.
enum DifferentialZone {
    static let origin: DNSName = "svc.test."
    static let big = (0..<3).map { String(repeating: String(UnicodeScalar(UInt8(97 + $0))), count: 240) }

    static let records: [String] = [
        "ns1.svc.test. 300 IN A 127.0.0.1",
        "www.svc.test. 300 IN A 10.8.10.1",
        "www.svc.test. 300 IN AAAA 2001:db8::1",
        "mail.svc.test. 300 IN MX 10 www.svc.test.",
        "mail.svc.test. 300 IN MX 20 mx.outside.example.",
        "_https._tcp.svc.test. 300 IN SRV 10 5 443 www.svc.test.",
        "txt.svc.test. 300 IN TXT \"a b\" \"c\" \"\"",
        "svc.test. 300 IN CAA 0 issue \"ca.svc.test\"",
        "opaque.svc.test. 300 IN TYPE65280 \\# 4 0a000001",
        "alias.svc.test. 300 IN CNAME alias2.svc.test.",
        "alias2.svc.test. 300 IN CNAME www.svc.test.",
        "out.svc.test. 300 IN CNAME target.outside.example.",
        "loop1.svc.test. 300 IN CNAME loop2.svc.test.",
        "loop2.svc.test. 300 IN CNAME loop1.svc.test.",
        "dangling.svc.test. 300 IN CNAME nothere.svc.test.",
        "a.b.ent.svc.test. 300 IN A 10.0.0.1",
        "sub.svc.test. 300 IN NS ns.sub.svc.test.",
        "sub.svc.test. 300 IN NS ns.other.example.",
        "ns.sub.svc.test. 300 IN A 10.0.0.53",
        "*.svc.test. 300 IN A 10.8.10.252",
        "*.svc.test. 300 IN TXT \"wild\"",
        "*.wc.svc.test. 300 IN CNAME www.svc.test.",
    ] + big.map { "big.svc.test. 300 IN TXT \"\($0)\"" }

    static var toml: String {
        """
        [[zone]]
        name = "svc.test"
        nameservers = ["ns1.svc.test", "ns2.elsewhere.example."]
        admin = "admin.svc.test"
        ttl = 3600
        negative_ttl = 60
        records = [
        \(records.map { "  '\($0)'," }.joined(separator: "\n"))
        ]
        """
    }

    static var knotZoneFile: String {
        ([
            "svc.test. 3600 IN SOA ns1.svc.test. admin.svc.test. 1 7200 3600 1209600 60",
            "svc.test. 3600 IN NS ns1.svc.test.",
            "svc.test. 3600 IN NS ns2.elsewhere.example.",
        ] + records).joined(separator: "\n") + "\n"
    }
}

/// cdnsd started from the built binary with a configuration written for the test.
struct CDNSServer {
    let process: ManagedProcess
    let port: UInt16
    /// The challenge API's port (set through CDNS_API_LISTEN).
    let apiPort: UInt16

    var apiURL: String { "http://127.0.0.1:\(apiPort)" }

    /// Starts `cdnsd serve --config FILE` on a free loopback port (set through
    /// CDNS_DNS_LISTEN) and waits until `zone` answers.
    static func start(toml: String?, zone: DNSName, in directory: TemporaryDirectory, arguments: [String]? = nil, environment: [String: String] = [:],
                      harnessDefaults: Bool = true) throws -> CDNSServer {
        let port = try TestDNSClient.freePort()
        let apiPort = try TestDNSClient.freePort()
        var args = ["serve"]
        if let toml { args += ["--config", try directory.file("cdnsd-\(port).toml", toml)] }
        var env = ["CDNS_DNS_LISTEN": "127.0.0.1:\(port)", "CDNS_API_LISTEN": "127.0.0.1:\(apiPort)", "CDNS_STORAGE_ENGINE": "memory"]
        env.merge(environment) { $1 }
        let process = try ManagedProcess(Programs.cdnsd, arguments ?? args, environment: env, harnessDefaults: harnessDefaults, directory: directory)
        do {
            try TestDNSClient.waitUntilServing(port: port, zone: zone, process: process)
        } catch {
            process.stop()
            throw error
        }
        return CDNSServer(process: process, port: port, apiPort: apiPort)
    }
}

/// knotd serving `DifferentialZone` on a free loopback port.
struct KnotServer {
    let process: ManagedProcess
    let port: UInt16

    static func start(in directory: TemporaryDirectory) throws -> KnotServer {
        let knotd = try Programs.require("knotd")
        let port = try TestDNSClient.freePort()
        let zoneFile = try directory.file("svc.test.zone", DifferentialZone.knotZoneFile)
        let configuration = try directory.file("knot.conf", """
            server:
                listen: 127.0.0.1@\(port)
                rundir: \(directory.url.path)
            database:
                storage: \(directory.url.path)/knotdb
            template:
              - id: default
                storage: \(directory.url.path)
                semantic-checks: off
            zone:
              - domain: svc.test
                file: \(zoneFile)
            log:
              - target: stderr
                any: warning
            """)
        let process = try ManagedProcess(knotd, ["-c", configuration], directory: directory)
        do {
            try TestDNSClient.waitUntilServing(port: port, zone: DifferentialZone.origin, process: process)
        } catch {
            process.stop()
            throw error
        }
        return KnotServer(process: process, port: port)
    }
}
