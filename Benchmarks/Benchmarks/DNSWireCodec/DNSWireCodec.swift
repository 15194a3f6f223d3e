import Benchmark
import DNSWire

/// A typical query as a resolver sends it: one question, EDNS with 1232.
let queryBytes: [UInt8] = {
    let query = DNSMessage(
        header: DNSHeader(id: 0x1234, flags: [.recursionDesired]),
        questions: [Question(name: "www.svc.dev.", type: .a)],
        edns: EDNS(udpPayloadSize: 1232))
    return (try? query.encode()) ?? []
}()

/// A typical 3-RR answer: three A records at the question name.
let answers: [ResourceRecord] = (1...3).map { index in
    ResourceRecord(name: "www.svc.dev.", ttl: 300, data: .a(IPv4Address(10, 8, 10, UInt8(index))))
}

let response = DNSMessage(
    header: DNSHeader(id: 0x1234, flags: [.response, .authoritative, .recursionDesired]),
    questions: [Question(name: "www.svc.dev.", type: .a)],
    answers: answers,
    edns: EDNS(udpPayloadSize: 1232))

let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal, .instructions, .throughput]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: metrics, timeUnits: .nanoseconds, scalingFactor: .kilo, maxDuration: .seconds(3))

    Benchmark("decode query") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try queryBytes.withUnsafeBytes { raw in try DNSMessage(decoding: raw) })
        }
    }

    Benchmark("encode 3-RR response") { benchmark in
        var buffer = [UInt8](repeating: 0, count: 1232)
        try buffer.withUnsafeMutableBytes { raw in
            for _ in benchmark.scaledIterations {
                blackHole(try response.encode(into: raw, maxSize: 1232))
            }
        }
    }

    Benchmark("decode query + encode response") { benchmark in
        var buffer = [UInt8](repeating: 0, count: 1232)
        try buffer.withUnsafeMutableBytes { raw in
            for _ in benchmark.scaledIterations {
                let query = try queryBytes.withUnsafeBytes { bytes in try DNSMessage(decoding: bytes) }
                var writer = DNSMessageWriter(buffer: raw, maxSize: Int(query.edns?.udpPayloadSize ?? 512))
                var header = query.header
                header.flags.formUnion([.response, .authoritative])
                try writer.writeHeader(header)
                if query.edns != nil { try writer.reserveEDNS(EDNS(udpPayloadSize: 1232)) }
                try writer.append(query.questions[0])
                try writer.append(answers, to: .answer, owner: query.questions[0].name)
                blackHole(try writer.finish())
            }
        }
    }
}
