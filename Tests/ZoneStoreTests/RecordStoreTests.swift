import DNSWire
import Foundation
import Logging
import CDNSTestSupport
import Testing
import ZoneStore
import ZoneStorePostgres

/// One suite, run unchanged against every backend.
@Suite("Record store")
struct RecordStoreTests {
    enum Backend: String, CaseIterable, CustomStringConvertible, Sendable {
        case memory, sqlite, postgres
        var description: String { rawValue }

        /// PostgreSQL runs when `Scripts/test.sh` started one, and must when integration is required.
        static var available: [Backend] {
            PostgresTestDatabase.serverURL != nil || ProcessInfo.processInfo.environment["CDNS_REQUIRE_INTEGRATION"] == "1"
                ? allCases : [.memory, .sqlite]
        }
    }

    /// A store on `backend`: SQLite files in a fresh directory, PostgreSQL in a fresh database.
    final class Fixture: Sendable {
        let directory: URL
        let backend: Backend
        let database: String?
        let tasks = TaskBox()

        init(_ backend: Backend) async throws {
            self.backend = backend
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("cdnsd-store-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            database = backend == .postgres ? try await PostgresTestDatabase.create() : nil
        }

        var path: String { directory.appendingPathComponent("cdnsd.sqlite").path }

        func open(zones: [ZoneConfiguration] = [LookupTests.zone]) async throws -> ZoneRecordStore {
            switch backend {
            case .memory: return try await ZoneRecordStore(zones: zones, backend: MemoryBackend())
            case .sqlite: return try await ZoneRecordStore(zones: zones, backend: try SQLiteBackend(path: path))
            case .postgres:
                let postgres = try PostgresBackend(url: try #require(database), logger: Logger(label: "test.postgres"))
                tasks.add(Task { await postgres.run() })
                return try await ZoneRecordStore(zones: zones, backend: postgres)
            }
        }

        func remove() {
            tasks.cancelAll()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    actor Recorder: SnapshotSubscriber {
        var serials: [UInt32] = []
        func apply(_ snapshot: ZoneSnapshot) async { serials.append(snapshot["svc.test."]?.serial ?? 0) }
    }

    static func txt(_ store: ZoneRecordStore, _ name: DNSName) async -> [String] {
        store.snapshot().lookup(name, type: .txt).answer.flatMap(\.records).compactMap {
            if case .txt(let txt) = $0.data { txt.joinedText } else { nil }
        }.sorted()
    }

    @Test(arguments: Backend.available)
    func recordsArePublishedAndRaiseTheSerial(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.remove() }
        let store = try await fixture.open()
        let recorder = Recorder()
        await store.subscribe(recorder)
        let first = try ResourceRecord(presentation: "dyn.svc.test. 60 A 192.0.2.1")
        let second = try ResourceRecord(presentation: "dyn.svc.test. 60 A 192.0.2.2")
        try await store.add([first, second])
        #expect(await store.snapshot().lookup("dyn.svc.test.", type: .a).answer.first?.records.count == 2)
        try await store.remove([first])
        #expect(await store.snapshot().lookup("dyn.svc.test.", type: .a).answer.first?.records == [second])
        try await store.replaceRRset(name: "dyn.svc.test.", type: .a, with: [first])
        #expect(await store.snapshot().lookup("dyn.svc.test.", type: .a).answer.first?.records == [first])
        #expect(await recorder.serials == [7, 8, 9, 10])
    }

    @Test(arguments: Backend.available)
    func challengesServeEveryValueAndExpire(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.remove() }
        let store = try await fixture.open()
        let name: DNSName = "_acme-challenge.www.svc.test."
        for (index, value) in ["value-1", "value-2", "value-3"].enumerated() {
            try await store.addChallenge(ChallengeRecord(name: name, value: value, owner: "lego", createdAt: 1000, expiresAt: 2000 + Int64(index)))
        }
        #expect(await Self.txt(store, name) == ["value-1", "value-2", "value-3"], "every live value, not just two")
        #expect(await store.snapshot().lookup(name, type: .txt).answer.first?.records.first?.ttl == 60)
        #expect(try await store.removeChallenge(name: name, value: "value-2"))
        #expect(try await store.removeChallenge(name: name, value: "value-2") == false)
        #expect(await Self.txt(store, name) == ["value-1", "value-3"])
        let serial = store.snapshot()["svc.test."]?.serial ?? 0
        #expect(try await store.removeExpiredChallenges(now: 2000) == 1)
        #expect(await Self.txt(store, name) == ["value-3"])
        #expect(await store.snapshot()["svc.test."]?.serial == serial + 1, "expiry moves the serial")
        #expect(try await store.removeExpiredChallenges(now: 2000) == 0)
    }

    @Test(arguments: Backend.available)
    func accountsAndCredentials(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.remove() }
        let store = try await fixture.open()
        let account = Account(username: "u1", passwordHash: "$2a$10$abcdefghijklmnopqrstuu", subdomain: "sub-1", allowFrom: ["10.0.0.0/8", "192.168.1.0/24"])
        try await store.putAccount(account)
        #expect(await store.account(username: "u1") == account)
        await #expect { try await store.putAccount(Account(username: "u2", passwordHash: "x", subdomain: "sub-1", allowFrom: [])) } throws: {
            ($0 as? ZoneStoreError)?.code == .conflict
        }
        let credential = APICredential(name: "traefik", secretHash: "$2b$12$hash", allowedNames: ["*.team.svc.test"], allowedSources: ["10.0.0.0/8"])
        try await store.putCredential(credential)
        #expect(await store.credential(name: "traefik") == credential)
        #expect(try await store.removeCredential(name: "traefik"))
        #expect(await store.credentials().isEmpty)
    }

    @Test("TSIG keys keep their secret and scope across a restart", arguments: Backend.available)
    func tsigKeys(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.remove() }
        let key = TSIGKey(name: "certbot.", algorithm: "hmac-sha512.", secret: Array(0...63), allowedNames: ["*.svc.test", "svc.test"],
                          allowedSources: ["127.0.0.0/8"], allowedTypes: [.txt, .a], challengeNamesOnly: false, transferOnly: true)
        let md5 = TSIGKey(name: "legacy.", algorithm: "hmac-md5.sig-alg.reg.int.", secret: Array(0...15), allowedNames: ["*"], allowMD5: true)
        do {
            let store = try await fixture.open()
            try await store.putTSIGKey(key)
            try await store.putTSIGKey(md5)
            try await store.putTSIGKey(TSIGKey(name: "other.", algorithm: "hmac-sha256.", secret: [1, 2, 3]))
            #expect(try await store.removeTSIGKey(name: "OTHER."))
            #expect(try await !store.removeTSIGKey(name: "other."))
        }
        guard backend != .memory else { return }
        let reopened = try await fixture.open()
        #expect(await reopened.tsigKeys() == [key, md5])
        #expect(await reopened.tsigKey(name: "CERTBOT.") == key)
        #expect(await reopened.tsigKey(name: "legacy.")?.allowMD5 == true)
        #expect(await reopened.tsigKey(name: "certbot.")?.allowMD5 == false)
    }

    @Test("a store made before allow_md5 existed (schema 3) opens with the flag set for its md5 keys only, and keeps it from then on",
          arguments: Backend.available.filter { $0 != .memory })
    func md5ColumnMigration(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.remove() }
        // The database as cdnsd left it before migration 4, written with the engines' own tools.
        let old = StoreSchema.migrations.prefix(3).joined(separator: "\n") + """
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version (version) VALUES (1), (2), (3);
            INSERT INTO tsig_keys VALUES ('old.', 'hmac-sha256.', 'AQIDBAUGBwgJCgsMDQ4PEA==', '*.svc.test', '', 'TXT', 1, 0);
            INSERT INTO tsig_keys VALUES ('old-md5.', 'hmac-md5.sig-alg.reg.int.', 'AQIDBAUGBwgJCgsMDQ4PEA==', '*', '', 'TXT', 1, 0);
            """
        let tool: [String] = backend == .sqlite ? ["sqlite3", fixture.path] : ["psql", "-q", "-v", "ON_ERROR_STOP=1", try #require(fixture.database)]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = tool
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data(old.utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(tool[0]) could not write the old schema")

        do {
            let store = try await fixture.open()
            let migrated = try #require(store.tsigKey(name: "old."))
            #expect(migrated.allowMD5 == false && migrated.secret == Array(1...16) && migrated.allowedNames == ["*.svc.test"])
            // md5 keys could only be made with --allow-md5 before the flag was stored: they keep working.
            #expect(store.tsigKey(name: "old-md5.")?.allowMD5 == true)
            var enabled = migrated
            enabled.allowMD5 = true
            try await store.putTSIGKey(enabled)
        }
        let reopened = try await fixture.open()
        #expect(reopened.tsigKey(name: "old.")?.allowMD5 == true)
        // Change-log entries written before the column existed still read.
        let logged = try StoreSchema.decode("+tsig_keys\ttold.\tthmac-sha256.\ttAQID\tt*\tt\ttTXT\ti1\ti0\n")
        guard case .operations(let operations, _) = logged, case .put(.tsigKey(let key))? = operations.first else {
            Issue.record("not read: \(logged)")
            return
        }
        #expect(key.allowMD5 == false && key.secret == [1, 2, 3])
    }

    @Test(arguments: Backend.available)
    func rejectedChangesLeaveNothingBehind(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.remove() }
        let store = try await fixture.open()
        let clash = try ResourceRecord(presentation: "alias.svc.test. 60 TXT \"clash\"")
        await #expect { try await store.add([clash]) } throws: { ($0 as? ZoneStoreError)?.code == .cnameConflict }
        await #expect { try await store.addChallenge(ChallengeRecord(name: "x.example.com.", value: "v", owner: "o", createdAt: 0, expiresAt: 1)) } throws: {
            ($0 as? ZoneStoreError)?.code == .noSuchZone
        }
        #expect(await store.snapshot()["svc.test."]?.serial == 7)
        if backend != .memory {
            let reopened = try await fixture.open()
            #expect(await reopened.challenges().isEmpty)
            #expect(await reopened.snapshot().lookup("alias.svc.test.", type: .txt).answer.first?.rrset.type == .cname)
        }
    }

    @Test("concurrent writes are group-committed: every acknowledged one is served and kept; a rejected one fails alone", arguments: Backend.available)
    func concurrentWrites(backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.remove() }
        let store = try await fixture.open()
        let name: DNSName = "_acme-challenge.many.svc.test."
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<40 {
                group.addTask {
                    do {
                        if index == 17 {
                            // A CNAME conflict inside the same burst of writes.
                            try await store.add([try ResourceRecord(presentation: "alias.svc.test. 60 TXT \"clash\"")])
                        } else {
                            try await store.addChallenge(ChallengeRecord(name: name, value: "v\(index)", owner: "o", createdAt: 0, expiresAt: .max))
                        }
                        return (index, true)
                    } catch {
                        return (index, false)
                    }
                }
            }
            var outcomes: [Int: Bool] = [:]
            for await (index, ok) in group { outcomes[index] = ok }
            return outcomes
        }
        #expect(outcomes.filter { !$0.value }.map(\.key) == [17])
        let expected = (0..<40).filter { $0 != 17 }.map { "v\($0)" }.sorted()
        #expect(await Self.txt(store, name) == expected)
        #expect(await store.snapshot()["svc.test."].map { $0.serial > 7 } == true)
        if backend != .memory {
            let reopened = try await fixture.open()
            #expect(await Self.txt(reopened, name) == expected)
        }
    }

    @Test("restarting on the same SQLite file serves the same records, accounts and serials")
    func sqliteSurvivesRestart() async throws {
        let fixture = try await Fixture(.sqlite)
        defer { fixture.remove() }
        do {
            let store = try await fixture.open()
            try await store.add([try ResourceRecord(presentation: "kept.svc.test. 60 A 192.0.2.9")])
            try await store.addChallenge(ChallengeRecord(name: "_acme-challenge.kept.svc.test.", value: "token", owner: "lego", createdAt: 1, expiresAt: .max))
            try await store.putAccount(Account(username: "u", passwordHash: "h", subdomain: "s", allowFrom: []))
            try await store.putCredential(APICredential(name: "c", secretHash: "h", allowedNames: ["*.svc.test"], allowedSources: []))
            #expect(await store.snapshot()["svc.test."]?.serial == 9)
        }
        let reopened = try await fixture.open()
        #expect(await reopened.snapshot().lookup("kept.svc.test.", type: .a).answer.first?.records.map(\.description) == ["kept.svc.test. 60 IN A 192.0.2.9"])
        #expect(await Self.txt(reopened, "_acme-challenge.kept.svc.test.") == ["token"])
        #expect(await reopened.account(username: "u")?.subdomain == "s")
        #expect(await reopened.credential(name: "c")?.allowedNames == ["*.svc.test"])
        #expect(await reopened.snapshot()["svc.test."]?.serial == 9, "a restart with the same configuration is no change")
        var zone = LookupTests.zone
        zone.records.append(try ResourceRecord(presentation: "new.svc.test. 60 A 192.0.2.10"))
        let changed = try await fixture.open(zones: [zone])
        #expect(await changed.snapshot()["svc.test."]?.serial == 10, "a configuration change is one change")
        #expect(await changed.snapshot().lookup("new.svc.test.", type: .a).answer.count == 1)
    }

    @Test("records of a zone no longer configured are kept but not served")
    func orphansAreKept() async throws {
        let fixture = try await Fixture(.sqlite)
        defer { fixture.remove() }
        do {
            let store = try await fixture.open(zones: [LookupTests.zone, LookupTests.second])
            try await store.add([try ResourceRecord(presentation: "x.second.test. 60 A 192.0.2.3")])
        }
        let withoutSecond = try await fixture.open(zones: [LookupTests.zone])
        #expect(await withoutSecond.orphanedRecords == 1)
        let back = try await fixture.open(zones: [LookupTests.zone, LookupTests.second])
        #expect(await back.snapshot().lookup("x.second.test.", type: .a).answer.count == 1)
    }
}
