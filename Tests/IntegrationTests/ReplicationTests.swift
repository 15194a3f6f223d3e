import CDNSTestSupport
import DNSWire
import Foundation
import Logging
import Testing
import ZoneStore
import ZoneStorePostgres

/// Two cdnsd processes on one PostgreSQL database: a record written by a
/// replica is answered over DNS by both, through NOTIFY/LISTEN.
@Suite("PostgreSQL replicas", .serialized,
       .enabled(if: PostgresTestDatabase.serverURL != nil || Programs.required, "no PostgreSQL: Scripts/test.sh starts one"))
struct ReplicationTests {
    @Test func writesReachEveryReplicaOverDNS() async throws {
        let url = try await PostgresTestDatabase.create()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let environment = ["CDNS_STORAGE_ENGINE": "postgres", "CDNS_STORAGE_URL": url]
        let first = try CDNSServer.start(toml: DifferentialZone.toml, zone: DifferentialZone.origin, in: directory, environment: environment)
        defer { first.process.stop() }
        let second = try CDNSServer.start(toml: DifferentialZone.toml, zone: DifferentialZone.origin, in: directory, environment: environment)
        defer { second.process.stop() }

        // A third replica writes, through the same store API cdnsd uses.
        let backend = try PostgresBackend(url: url, logger: Logger(label: "replication-test"))
        let pool = Task { await backend.run() }
        defer { pool.cancel() }
        let zone = ZoneConfiguration(origin: "svc.test.", nameservers: ["ns1.svc.test."], admin: "admin.svc.test.")
        let writer = try await ZoneRecordStore(zones: [zone], backend: backend)

        var delays: [Double] = []
        for round in 1...10 {
            let name = try DNSName("_acme-challenge.r\(round).svc.test.")
            try await writer.addChallenge(ChallengeRecord(name: name, value: "token-\(round)", owner: "test", createdAt: 0, expiresAt: .max))
            let written = Date()
            for server in [first, second] {
                let seen = try Self.waitForTXT(name, port: server.port, timeout: 5) { $0.contains("token-\(round)") }
                #expect(seen, "replica on port \(server.port) never answered round \(round)")
            }
            delays.append(Date().timeIntervalSince(written) * 1000)
        }
        // Removal travels the same way.
        let gone: DNSName = "_acme-challenge.r1.svc.test."
        try await writer.removeChallenge(name: gone, value: "token-1")
        #expect(try Self.waitForTXT(gone, port: second.port, timeout: 5) { !$0.contains("token-1") })
        let sorted = delays.sorted()
        print("replication delay until both replicas answer over DNS: median \(Int(sorted[sorted.count / 2])) ms, max \(Int(sorted.last ?? 0)) ms")
    }

    /// Polls `name`'s TXT values on `port` until `condition` holds for them.
    static func waitForTXT(_ name: DNSName, port: UInt16, timeout: Double, until condition: ([String]) -> Bool) throws -> Bool {
        let query = try DNSMessage(header: DNSHeader(id: 3), questions: [Question(name: name, type: .txt)]).encode()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let reply = try DNSMessage(decoding: TestDNSClient.udp(query, port: port))
            let values = reply.answers.compactMap { record -> String? in if case .txt(let txt) = record.data { txt.joinedText } else { nil } }
            if condition(values) { return true }
            usleep(2_000)
        }
        return false
    }
}
