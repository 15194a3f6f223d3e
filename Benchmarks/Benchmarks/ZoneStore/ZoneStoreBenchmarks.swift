import Benchmark
import DNSWire
import Foundation
import Logging
import ZoneStore
import ZoneStorePostgres

/// Store costs the storage issue asks for: durable writes per second, and
/// what 100,000 records cost to index and to hold.
let zone = ZoneConfiguration(origin: "svc.bench.", nameservers: ["ns1.svc.bench."], admin: "admin.svc.bench.")

let hundredThousand: [ResourceRecord] = [zone.soa(serial: 1)] + (0..<100_000).map { index in
    ResourceRecord(name: try! DNSName("host\(index).svc.bench."), ttl: 300, data: index % 2 == 0
        ? .a(IPv4Address(rawValue: 0x0A00_0000 | UInt32(index)))
        : .txt(TXT(text: "challenge-value-\(index)-abcdefghijklmnopqrstuvwxyz")))
}

func temporaryDatabase() -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cdnsd-bench-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent("bench.sqlite").path
}

/// Publishes and removes challenge values, `iterations` times: two durable writes each.
func addAndRemove(_ store: ZoneRecordStore, _ iterations: Range<Int>) async throws {
    for sequence in iterations {
        let name = try DNSName("_acme-challenge.w\(sequence % 50).svc.bench.")
        try await store.addChallenge(ChallengeRecord(name: name, value: "v\(sequence)", owner: "bench", createdAt: 0, expiresAt: .max))
        try await store.removeChallenge(name: name, value: "v\(sequence)")
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark("SQLite addChallenge (durable write)", configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(5))) { benchmark in
        let path = temporaryDatabase()
        let store = try await ZoneRecordStore(zones: [zone], backend: try SQLiteBackend(path: path))
        benchmark.startMeasurement()
        try await addAndRemove(store, benchmark.scaledIterations)
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    // PostgreSQL when CDNS_BENCH_POSTGRES_URL names a database to use (its tables are created there).
    if let url = ProcessInfo.processInfo.environment["CDNS_BENCH_POSTGRES_URL"] {
        Benchmark("PostgreSQL addChallenge (durable write)", configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(5))) { benchmark in
            let backend = try PostgresBackend(url: url, logger: Logger(label: "bench"))
            let pool = Task { await backend.run() }
            let store = try await ZoneRecordStore(zones: [zone], backend: backend)
            benchmark.startMeasurement()
            try await addAndRemove(store, benchmark.scaledIterations)
            benchmark.stopMeasurement()
            pool.cancel()
        }
    }

    Benchmark("memory addChallenge", configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(3))) { benchmark in
        let store = try await ZoneRecordStore(zones: [zone])
        try await addAndRemove(store, benchmark.scaledIterations)
    }

    Benchmark("memory addChallenge, zone of 100,000 records", configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(5))) { benchmark in
        var big = zone
        big.records = Array(hundredThousand.dropFirst())
        let store = try await ZoneRecordStore(zones: [big])
        benchmark.startMeasurement()
        try await addAndRemove(store, benchmark.scaledIterations)
        benchmark.stopMeasurement()
        withExtendedLifetime(store) {}
    }

    Benchmark("ZoneIndex rebuild, 100,000 records", configuration: .init(metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal], maxDuration: .seconds(20), maxIterations: 5)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try ZoneIndex(origin: zone.origin, records: hundredThousand))
        }
    }
}
