import CDNSTestSupport
import DNSServer
import DNSWire
import Foundation
import Logging
import Testing
import ZoneStore
import ZoneStorePostgres

/// Two cdnsd processes on one PostgreSQL database: a record written by a
/// replica is answered over DNS by both, through NOTIFY/LISTEN.
@Suite("PostgreSQL replicas", .blocking, .serialized,
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

        // A third replica writes, through the same store API cdnsd uses (with a
        // patient operation timeout: a loaded full run once took over 10 s).
        let backend = try PostgresBackend(url: url, operationTimeout: .seconds(60), logger: Logger(label: "replication-test"))
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

    @Test("a TXT written through one replica's acme-dns API is answered by the other", .enabled(if: Programs.runnable("curl")))
    func apiWritesReachTheOtherReplica() async throws {
        let url = try await PostgresTestDatabase.create()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (first, second) = try Self.replicas(on: url, in: directory)
        defer {
            first.process.stop()
            second.process.stop()
        }
        let account = try APIAccount.register(at: first.apiURL)
        let name = account.name
        var delays: [Double] = []
        var totals: [Double] = []
        for round in 0..<10 {
            let started = Date()
            let value = String(repeating: String(UnicodeScalar(UInt8(97 + round))), count: 43)
            let updated = try account.update(at: first.apiURL, txt: value)
            let acknowledged = Date()
            #expect(updated.status == 200, "\(updated)")
            // Acknowledged means already served by the replica that took it.
            #expect(try Self.waitForTXT(name, port: first.port, timeout: 0) { $0.contains(value) })
            #expect(try Self.waitForTXT(name, port: second.port, timeout: 5) { $0.contains(value) }, "round \(round)")
            delays.append(Date().timeIntervalSince(acknowledged) * 1000)
            totals.append(Date().timeIntervalSince(started) * 1000)
        }
        let sorted = delays.sorted()
        let whole = totals.sorted()
        print("API write on one replica: the other answers \(Int(sorted[sorted.count / 2])) ms (median), \(Int(sorted.last ?? 0)) ms (max) after the acknowledgement;"
              + " \(Int(whole[whole.count / 2])) / \(Int(whole.last ?? 0)) ms from starting curl")
    }

    @Test("after PostgreSQL restarts, replicas reconnect and resynchronise: a write through one is answered by the other",
          .enabled(if: PrivatePostgres.available || Programs.required), .enabled(if: Programs.runnable("curl")))
    func reconnectAfterRestart() async throws {
        try await Self.withPrivateReplicas { postgres, first, second in
            let account = try APIAccount.register(at: first.apiURL)
            let name = account.name

            try postgres.restart()
            // The first write after the restart may meet a dead connection: it is
            // refused (503), never acknowledged and lost; the client retries.
            let value = String(repeating: "r", count: 43)
            var refusals = 0
            try await waitUntil("a write is accepted after the restart", timeout: 30) {
                let response = try account.update(at: first.apiURL, txt: value)
                if response.status != 200 { refusals += 1 }
                return response.status == 200
            }
            #expect(try Self.waitForTXT(name, port: first.port, timeout: 0) { $0.contains(value) })
            #expect(try Self.waitForTXT(name, port: second.port, timeout: 15) { $0.contains(value) }, "the other replica resynchronised")
            #expect(try Curl.get("\(second.apiURL)/health").status == 200)
            print("PostgreSQL restart: \(refusals) write(s) refused while reconnecting, then served by both replicas")
        }
    }

    @Test("a replica whose change feed is cut while the other writes catches up to exactly the writer's state",
          .enabled(if: PrivatePostgres.available || Programs.required), .enabled(if: Programs.runnable("curl")))
    func catchUpAfterLosingTheFeed() async throws {
        try await Self.withPrivateReplicas { postgres, first, second in
            let accounts = try (0..<3).map { _ in try APIAccount.register(at: first.apiURL) }
            try await waitUntil("both replicas listen", timeout: 15) {
                try postgres.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'") == "2"
            }
            // Both feeds drop; for the next second (the reconnect delay) no NOTIFY reaches the second replica.
            #expect(try postgres.sql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%') AS cut") == "2")
            var written: [DNSName: Set<String>] = [:]
            for account in accounts {
                for index in 0..<2 {
                    let value = String(repeating: Character(UnicodeScalar(UInt8(ascii: "a") + UInt8(index))), count: 40) + account.subdomain.prefix(3)
                    let response = try account.update(at: first.apiURL, txt: value)
                    #expect(response.status == 200, "\(response)")
                    written[account.name, default: []].insert(value)
                }
            }
            let serial = try #require(TestDNSClient.serial(DifferentialZone.origin, port: first.port))
            try await waitUntil("the second replica reaches the writer's serial", timeout: 15) {
                TestDNSClient.serial(DifferentialZone.origin, port: second.port) == serial
            }
            for account in accounts {
                let onFirst = Set(try TestDNSClient.txtValues(account.name, port: first.port))
                #expect(onFirst == written[account.name])
                #expect(Set(try TestDNSClient.txtValues(account.name, port: second.port)) == onFirst, "\(account.name)")
            }
            #expect(try postgres.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'") == "2", "both feeds reconnected")
        }
    }

    @Test("a TSIG key added with cdnsd tsig add reaches both replicas; an UPDATE through one is answered over DNS by the other")
    func updatesReachTheOtherReplica() async throws {
        let url = try await PostgresTestDatabase.create()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (first, second) = try Self.replicas(on: url, in: directory)
        defer {
            first.process.stop()
            second.process.stop()
        }
        let environment = ["CDNS_STORAGE_ENGINE": "postgres", "CDNS_STORAGE_URL": url]
        let configuration = try directory.file("cli.toml", DifferentialZone.toml)
        let added = try ManagedProcess.run(Programs.cdnsd, ["tsig", "add", "replicated", "--allow", "*.svc.test", "--config", configuration], environment: environment)
        #expect(added.status == 0, "\(added.output)")
        let secret = try #require(added.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count))
        let key = TSIGCredential(name: "replicated.", algorithm: .hmacSHA256, secret: Base64.decode(String(secret)) ?? [])
        let signer = TSIGSigner(credential: key)
        func update(_ record: ResourceRecord, port: UInt16, id: UInt16) throws -> ResponseCode {
            let message = try DNSMessage(header: DNSHeader(id: id, opcode: .update), questions: [Question(name: "svc.test.", type: .soa)], authority: [record]).encode()
            return try DNSMessage(decoding: try TestDNSClient.udp(signer.sign(request: message, time: UInt64(Date().timeIntervalSince1970)).message, port: port)).header.rcode
        }
        let started = Date()
        for server in [first, second] {
            try await waitUntil("replica on \(server.port) knows the key", timeout: 10) {
                let probe = signer.sign(request: try DNSMessage(header: DNSHeader(id: 2), questions: [Question(name: "svc.test.", type: .soa)]).encode(),
                                        time: UInt64(Date().timeIntervalSince1970))
                return try DNSMessage(decoding: try TestDNSClient.udp(probe.message, port: server.port)).header.rcode == .noError
            }
        }
        print("a key added with cdnsd tsig add was usable on both replicas after \(Int(Date().timeIntervalSince(started) * 1000)) ms")

        var delays: [Double] = []
        for round in 0..<10 {
            let name = try DNSName("_acme-challenge.u\(round).svc.test.")
            let value = "through-a-\(round)"
            #expect(try update(ResourceRecord(name: name, ttl: 60, data: .txt(TXT(text: value))), port: first.port, id: UInt16(10 + round)) == .noError)
            let acknowledged = Date()
            #expect(try Self.waitForTXT(name, port: first.port, timeout: 0) { $0 == [value] }, "served by A before the reply")
            #expect(try Self.waitForTXT(name, port: second.port, timeout: 5) { $0 == [value] }, "round \(round): replica B answers")
            delays.append(Date().timeIntervalSince(acknowledged) * 1000)
            // Deleting through B removes it from A.
            #expect(try update(ResourceRecord(name: name, class: .none, ttl: 0, data: .txt(TXT(text: value))), port: second.port, id: UInt16(40 + round)) == .noError)
            #expect(try Self.waitForTXT(name, port: first.port, timeout: 5) { !$0.contains(value) }, "round \(round): the delete through B reaches A")
            #expect(try Self.waitForTXT(name, port: second.port, timeout: 0) { !$0.contains(value) }, "round \(round): B served its delete before the reply")
        }
        let sorted = delays.sorted()
        print("UPDATE on replica A: replica B answers \(Int(sorted[sorted.count / 2])) ms (median), \(Int(sorted.last ?? 0)) ms (max) after the reply")
    }

    /// Two cdnsd processes on the database at `url`, the first's API up.
    /// Runs `body` with two replicas on a PostgreSQL cluster of its own
    /// (one the test may restart or cut connections of), then stops all three.
    static func withPrivateReplicas(_ body: (PrivatePostgres, CDNSServer, CDNSServer) async throws -> Void) async throws {
        let postgres = try PrivatePostgres.start()
        defer { postgres.stop() }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (first, second) = try replicas(on: postgres.url, in: directory)
        defer {
            first.process.stop()
            second.process.stop()
        }
        try await body(postgres, first, second)
    }

    static func replicas(on url: String, in directory: TemporaryDirectory) throws -> (CDNSServer, CDNSServer) {
        let environment = ["CDNS_STORAGE_ENGINE": "postgres", "CDNS_STORAGE_URL": url]
        let first = try CDNSServer.start(toml: DifferentialZone.toml, zone: DifferentialZone.origin, in: directory, environment: environment)
        do {
            let second = try CDNSServer.start(toml: DifferentialZone.toml, zone: DifferentialZone.origin, in: directory, environment: environment)
            try Curl.waitFor("\(first.apiURL)/health", process: first.process)
            return (first, second)
        } catch {
            first.process.stop()
            throw error
        }
    }

    /// An acme-dns account registered with curl.
    struct APIAccount {
        let headers: [String]
        let subdomain: String
        let name: DNSName

        static func register(at api: String) throws -> APIAccount {
            let registered = try Curl.post("\(api)/register", json: "{}")
            guard registered.status == 201, let account = try JSONSerialization.jsonObject(with: Data(registered.body.utf8)) as? [String: Any],
                  let user = account["username"] as? String, let key = account["password"] as? String,
                  let subdomain = account["subdomain"] as? String, let fulldomain = account["fulldomain"] as? String else {
                throw TestSetupError("register: \(registered)")
            }
            return APIAccount(headers: ["X-Api-User: \(user)", "X-Api-Key: \(key)"], subdomain: subdomain, name: try DNSName("\(fulldomain)."))
        }

        func update(at api: String, txt: String) throws -> Curl.Response {
            try Curl.post("\(api)/update", json: "{\"subdomain\":\"\(subdomain)\",\"txt\":\"\(txt)\"}", headers: headers)
        }
    }

    /// Polls `name`'s TXT values on `port` until `condition` holds for them.
    static func waitForTXT(_ name: DNSName, port: UInt16, timeout: Double, until condition: ([String]) -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if condition(try TestDNSClient.txtValues(name, port: port)) { return true }
            usleep(2_000)
        } while Date() < deadline
        return false
    }
}
