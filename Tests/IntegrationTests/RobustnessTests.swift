import CDNSTestSupport
import DNSWire
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// 10,000 random and mutated datagrams at a running cdnsd; it must still be
/// alive and answer correctly afterwards.
@Suite("Robustness", .blocking, .serialized)
struct RobustnessTests {
    @Test func survivesHostileDatagrams() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try CDNSServer.start(toml: DifferentialZone.toml, zone: DifferentialZone.origin, in: directory)
        defer { server.process.stop() }

        let seeds: [[UInt8]] = try [
            DNSMessage(header: DNSHeader(id: 1), questions: [Question(name: "www.svc.test.", type: .a)], edns: EDNS()).encode(),
            DNSMessage(header: DNSHeader(id: 2), questions: [Question(name: "alias.svc.test.", type: .any)]).encode(),
            DNSMessage(header: DNSHeader(id: 3, opcode: .update), questions: [Question(name: "svc.test.", type: .soa)],
                       answers: [ResourceRecord(name: "x.svc.test.", ttl: 1, data: .txt(TXT(text: "t")))]).encode(),
        ]
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var target = TestDNSClient.address("127.0.0.1", server.port)
        var generator = SystemRandomNumberGenerator()
        var sent = 0
        var drain = [UInt8](repeating: 0, count: 65535)
        for round in 0..<10_000 {
            var datagram: [UInt8]
            switch round % 3 {
            case 0:
                datagram = (0..<Int.random(in: 0...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            case 1:
                datagram = seeds[round % seeds.count]
                for _ in 0..<Int.random(in: 1...6, using: &generator) {
                    datagram[Int.random(in: 0..<datagram.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            default:
                datagram = Array(seeds[round % seeds.count].prefix(Int.random(in: 0...seeds[round % seeds.count].count, using: &generator)))
            }
            let result = withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, datagram, datagram.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if result == datagram.count { sent += 1 }
            // Read replies as they come so that neither side's buffers fill.
            while recv(fd, &drain, drain.count, Int32(MSG_DONTWAIT)) > 0 {}
            if round % 500 == 0 { usleep(1000) }
        }
        #expect(sent == 10_000)
        #expect(server.process.isRunning)
        let query = try DNSMessage(header: DNSHeader(id: 77), questions: [Question(name: "www.svc.test.", type: .a)]).encode()
        // The server may still be working through the backlog of the flood.
        let udp = try DNSMessage(decoding: TestDNSClient.udp(query, port: server.port, timeout: 10))
        #expect(udp.header.id == 77 && udp.answers.map(\.description) == ["www.svc.test. 300 IN A 10.8.10.1"])
        let tcp = try DNSMessage(decoding: TestDNSClient.tcp(query, port: server.port))
        #expect(tcp.answers.map(\.description) == ["www.svc.test. 300 IN A 10.8.10.1"])
    }
}
