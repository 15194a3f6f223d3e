import Benchmark
import DNSServer
import DNSWire
import ZoneStore

/// The per-query work of the server without sockets: decode, lookup, encode,
/// for each kind of query in `Scripts/bench-dns.sh`'s mix.
let zone = ZoneConfiguration(
    origin: "svc.bench.", nameservers: ["ns1.svc.bench."], admin: "admin.svc.bench.",
    records: (1...100).flatMap { index in
        [
            ResourceRecord(name: try! DNSName("host\(index).svc.bench."), ttl: 300, data: .a(IPv4Address(10, 0, 0, UInt8(index)))),
            ResourceRecord(name: try! DNSName("_acme-challenge.host\(index).svc.bench."), ttl: 60, data: .txt(TXT(text: "challenge-token-\(index)-abcdefghijklmnopqrstuvwxyz012345"))),
        ]
    } + [ResourceRecord(name: "*.apps.svc.bench.", ttl: 300, data: .a(IPv4Address(10, 8, 10, 252)))])

func query(_ name: String, _ type: RRType) -> [UInt8] {
    (try? DNSMessage(header: DNSHeader(id: 7), questions: [Question(name: try! DNSName(name), type: type)]).encode()) ?? []
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal, .throughput], timeUnits: .nanoseconds, scalingFactor: .kilo, maxDuration: .seconds(3))
    let cases: [(String, [UInt8])] = [
        ("A hit", query("host42.svc.bench.", .a)),
        ("wildcard", query("x123.apps.svc.bench.", .a)),
        ("TXT", query("_acme-challenge.host7.svc.bench.", .txt)),
        ("NXDOMAIN", query("missing99.svc.bench.", .a)),
    ]
    for (name, bytes) in cases {
        Benchmark("respond \(name)") { benchmark in
            let snapshot = await (try await ZoneRecordStore(zones: [zone])).snapshot()
            let responder = QueryResponder()
            var scratch = Answer(rcode: .noError, authoritative: true)
            var output = [UInt8](repeating: 0, count: 1232)
            benchmark.startMeasurement()
            output.withUnsafeMutableBytes { out in
                bytes.withUnsafeBytes { query in
                    for _ in benchmark.scaledIterations {
                        blackHole(responder.respond(to: query, snapshot: snapshot, transport: .udp, into: out, scratch: &scratch))
                    }
                }
            }
        }
    }
}
