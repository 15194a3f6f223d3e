import CDNSTestSupport
import DNSWire
import Foundation
import Logging
import Testing
import ZoneStore
import ZoneStorePostgres

/// kill -9 a process writing through the store at a random moment, 20 times
/// per backend; every write it acknowledged must be there afterwards.
@Suite("Crash safety", .blocking, .serialized)
struct CrashTests {
    static let zone = ZoneConfiguration(origin: "svc.test.", nameservers: ["ns1.svc.test."], admin: "admin.svc.test.")

    @Test("SQLite loses no acknowledged write in 20 kill -9 rounds")
    func sqliteKillNine() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = directory.url.appendingPathComponent("crash.sqlite").path
        try await Self.killNineRounds(engine: "sqlite", target: database, in: directory) {
            try await ZoneRecordStore(zones: [Self.zone], backend: try SQLiteBackend(path: database))
        }
    }

    @Test("PostgreSQL loses no acknowledged write in 20 kill -9 rounds",
          .enabled(if: PostgresTestDatabase.serverURL != nil || Programs.required, "no PostgreSQL: Scripts/test.sh starts one"))
    func postgresKillNine() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let url = try await PostgresTestDatabase.create()
        let tasks = TaskBox()
        defer { tasks.cancelAll() }
        try await Self.killNineRounds(engine: "postgres", target: url, in: directory) {
            let backend = try PostgresBackend(url: url, operationTimeout: .seconds(60), logger: Logger(label: "crash-check"))
            tasks.add(Task { await backend.run() })
            return try await ZoneRecordStore(zones: [Self.zone], backend: backend)
        }
    }

    static func killNineRounds(engine: String, target: String, in directory: TemporaryDirectory, reopen: () async throws -> ZoneRecordStore) async throws {
        var acknowledged: [(DNSName, String)] = []
        var generator = SystemRandomNumberGenerator()
        for round in 1...20 {
            let writer = try ManagedProcess(Programs.built("StoreCrashWriter"), [engine, target, "\(round)", "4"], directory: directory)
            // Kill only once writes are flowing, then at a random moment.
            let deadline = Date().addingTimeInterval(20)
            while !writer.output.contains("\nack ") && writer.isRunning && Date() < deadline { usleep(5_000) }
            usleep(UInt32.random(in: 50_000...400_000, using: &generator))
            kill(writer.pid, SIGKILL)
            writer.process.waitUntilExit()
            #expect(writer.process.terminationReason == .uncaughtSignal, "round \(round) was killed, not finished: \(writer.output.suffix(300))")
            // Only whole lines count: the last one may have been cut by the kill.
            let lines = writer.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            for ack in lines.filter({ $0.hasPrefix("ack ") }).map({ $0.split(separator: " ") }) where ack.count == 3 {
                acknowledged.append((try DNSName(String(ack[1])), String(ack[2])))
            }
        }
        let store = try await reopen()
        let stored = Set(store.challenges().map { "\($0.name.lowercased()) \($0.value)" })
        let lost = acknowledged.filter { !stored.contains("\($0.0.lowercased()) \($0.1)") }
        #expect(lost.isEmpty, "\(engine) lost \(lost.count) of \(acknowledged.count) acknowledged writes, e.g. \(lost.prefix(3))")
        #expect(acknowledged.count >= 20)
        if let (name, value) = acknowledged.last {
            let served = store.snapshot().lookup(name, type: .txt).answer.flatMap(\.records)
            #expect(served.map(\.data) == [.txt(TXT(text: value))], "what is stored is served")
        }
        print("crash test (\(engine)): \(acknowledged.count) acknowledged writes over 20 kill -9 rounds, \(lost.count) lost, \(stored.count) stored")
    }
}
