import CDNSTestSupport
import DNSWire
import Foundation
import Testing

/// cdnsd queried by the tools people use: dig and kdig, over UDP and TCP.
@Suite("dig and kdig", .blocking, .serialized, .enabled(if: Programs.runnable("dig", "kdig"), "dig or kdig is not installed (bind9-dnsutils, knot-dnsutils)"))
struct DigTests {
    @Test func digAndKdigOverUDPAndTCP() throws {
        let dig = try Programs.require("dig")
        let kdig = try Programs.require("kdig")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try CDNSServer.start(toml: DifferentialZone.toml, zone: DifferentialZone.origin, in: directory)
        defer { server.process.stop() }
        let port = String(server.port)

        for transport in ["+notcp", "+tcp"] {
            let plain = try ManagedProcess.run(dig, ["@127.0.0.1", "-p", port, transport, "+short", "+tries=1", "+time=2", "www.svc.test", "A"])
            #expect(plain.status == 0)
            #expect(plain.output.split(separator: "\n") == ["10.8.10.1"], "dig \(transport): \(plain.output)")

            let chain = try ManagedProcess.run(kdig, ["@127.0.0.1", "-p", port, transport, "+short", "+retry=0", "+timeout=2", "alias.svc.test", "A"])
            #expect(chain.output.split(separator: "\n") == ["alias2.svc.test.", "www.svc.test.", "10.8.10.1"], "kdig \(transport): \(chain.output)")
        }
        let full = try ManagedProcess.run(dig, ["@127.0.0.1", "-p", port, "+norec", "+tries=1", "nothing.ns1.svc.test", "A"])
        #expect(full.output.contains("status: NXDOMAIN"))
        #expect(full.output.contains("flags: qr aa;"))
        #expect(full.output.contains("svc.test.\t\t60\tIN\tSOA\tns1.svc.test. admin.svc.test."))
        let refused = try ManagedProcess.run(kdig, ["@127.0.0.1", "-p", port, "+retry=0", "example.com", "A"])
        #expect(refused.output.contains("status: REFUSED"))
        // kdig falls back to TCP by itself when the UDP answer is truncated.
        let big = try ManagedProcess.run(kdig, ["@127.0.0.1", "-p", port, "+retry=0", "+noedns", "big.svc.test", "TXT"])
        #expect(big.output.contains("truncated reply"), "\(big.output)")
        #expect(big.output.contains("ANSWER: 3"))
    }
}
