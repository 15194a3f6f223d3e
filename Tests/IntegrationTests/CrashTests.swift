import DNSWire
import Foundation
import Testing
import ZoneStore

/// kill -9 a process writing through the store at a random moment, 20 times;
/// every write it acknowledged must be there afterwards.
@Suite("Crash safety", .serialized)
struct CrashTests {
    @Test("SQLite loses no acknowledged write in 20 kill -9 rounds")
    func sqliteKillNine() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = directory.url.appendingPathComponent("crash.sqlite").path
        var acknowledged: [(DNSName, String)] = []
        var generator = SystemRandomNumberGenerator()
        for round in 1...20 {
            let writer = try ManagedProcess(Programs.built("StoreCrashWriter"), ["sqlite", database, "\(round)", "4"], directory: directory)
            let deadline = Date().addingTimeInterval(20)
            // Kill only once writes are flowing, then at a random moment.
            while !writer.output.contains("\nack ") && writer.isRunning && Date() < deadline { usleep(5_000) }
            usleep(UInt32.random(in: 50_000...400_000, using: &generator))
            kill(writer.pid, SIGKILL)
            writer.process.waitUntilExit()
            #expect(writer.process.terminationReason == .uncaughtSignal, "round \(round) was killed, not finished: \(writer.output.suffix(300))")
            // Only whole lines count: the last one may have been cut by the kill.
            let lines = writer.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            let acks = lines.filter { $0.hasPrefix("ack ") }.map { $0.split(separator: " ") }
            for ack in acks where ack.count == 3 {
                acknowledged.append((try DNSName(String(ack[1])), String(ack[2])))
            }
        }
        let zone = ZoneConfiguration(origin: "svc.test.", nameservers: ["ns1.svc.test."], admin: "admin.svc.test.")
        let store = try await ZoneRecordStore(zones: [zone], backend: try SQLiteBackend(path: database))
        let stored = Set(await store.challenges().map { "\($0.name.lowercased()) \($0.value)" })
        let lost = acknowledged.filter { !stored.contains("\($0.0.lowercased()) \($0.1)") }
        #expect(lost.isEmpty, "lost \(lost.count) of \(acknowledged.count) acknowledged writes, e.g. \(lost.prefix(3))")
        #expect(acknowledged.count >= 20)
        // And what is stored is served.
        if let (name, value) = acknowledged.last {
            let served = await store.snapshot().lookup(name, type: .txt).answer.flatMap(\.records)
            #expect(served.map(\.data) == [.txt(TXT(text: value))])
        }
        print("crash test: \(acknowledged.count) acknowledged writes over 20 kill -9 rounds, \(lost.count) lost, \(stored.count) stored")
    }
}
