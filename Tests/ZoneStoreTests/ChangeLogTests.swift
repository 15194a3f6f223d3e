import CDNSTestSupport
import DNSWire
import Foundation
import Logging
import Testing
@testable import ZoneStore
import ZoneStorePostgres

/// Several stores on one backend, as replicas sharing a database: each
/// write is one change-log entry, a store that missed some applies exactly
/// those, and the per-zone journal says what each serial changed.
@Suite("Change log")
struct ChangeLogTests {
    typealias Backend = RecordStoreTests.Backend

    /// Opens stores that all share one backend's data.
    final class Shared: Sendable {
        let fixture: RecordStoreTests.Fixture
        let memory = MemoryBackend()

        init(_ backend: Backend) async throws { fixture = try await RecordStoreTests.Fixture(backend) }

        func open(zones: [ZoneConfiguration] = [LookupTests.zone], retention: StoreRetention = StoreRetention()) async throws -> ZoneRecordStore {
            switch fixture.backend {
            case .memory: return try await ZoneRecordStore(zones: zones, backend: memory)
            case .sqlite: return try await ZoneRecordStore(zones: zones, backend: try SQLiteBackend(path: fixture.path, retention: retention))
            case .postgres:
                let postgres = try PostgresBackend(url: try #require(fixture.database), retention: retention, logger: Logger(label: "test.postgres"))
                fixture.tasks.add(Task { await postgres.run() })
                return try await ZoneRecordStore(zones: zones, backend: postgres)
            }
        }

        /// A store of accounts, credentials and keys alone, as `cdnsd credential add` opens.
        func openDirectory() async throws -> ZoneRecordStore {
            switch fixture.backend {
            case .memory: return try await ZoneRecordStore(directoryFrom: memory)
            case .sqlite: return try await ZoneRecordStore(directoryFrom: try SQLiteBackend(path: fixture.path))
            case .postgres:
                let postgres = try PostgresBackend(url: try #require(fixture.database), logger: Logger(label: "test.postgres"))
                fixture.tasks.add(Task { await postgres.run() })
                return try await ZoneRecordStore(directoryFrom: postgres)
            }
        }
    }

    static func challenge(_ name: DNSName, _ value: String) -> ChallengeRecord {
        ChallengeRecord(name: name, value: value, owner: "test", createdAt: 1, expiresAt: .max)
    }

    @Test("a replica applies exactly the changes it missed, in order, and serves what the writer serves", arguments: Backend.available)
    func replicaCatchesUp(backend: Backend) async throws {
        let shared = try await Shared(backend)
        defer { shared.fixture.remove() }
        let writer = try await shared.open()
        let replica = try await shared.open()
        #expect(try await replica.catchUp() == 0)

        try await writer.add([try ResourceRecord(presentation: "new.svc.test. 60 A 192.0.2.20")])
        try await writer.addChallenge(Self.challenge("_acme-challenge.new.svc.test.", "v1"))
        try await writer.putAccount(Account(username: "u1", passwordHash: "h", subdomain: "s1", allowFrom: []))
        #expect(try await writer.removeChallenge(name: "_acme-challenge.new.svc.test.", value: "v1"))
        try await writer.addChallenge(Self.challenge("_acme-challenge.new.svc.test.", "v2"))

        #expect(try await replica.catchUp() == 5)
        #expect(await RecordStoreTests.txt(replica, "_acme-challenge.new.svc.test.") == ["v2"])
        #expect(replica.snapshot().lookup("new.svc.test.", type: .a).answer.count == 1)
        #expect(replica.account(username: "u1")?.subdomain == "s1")
        #expect(replica.snapshot()["svc.test."]?.serial == writer.snapshot()["svc.test."]?.serial)
        #expect(await replica.position == writer.position)

        // The replica writes; the first store was not told, so its write after
        // that must apply the replica's change first and lose neither.
        try await replica.addChallenge(Self.challenge("_acme-challenge.new.svc.test.", "from-replica"))
        try await writer.addChallenge(Self.challenge("_acme-challenge.new.svc.test.", "from-writer"))
        #expect(try await replica.catchUp() == 1)
        for store in [writer, replica] {
            #expect(await RecordStoreTests.txt(store, "_acme-challenge.new.svc.test.") == ["from-replica", "from-writer", "v2"])
        }
        #expect(replica.snapshot()["svc.test."]?.serial == writer.snapshot()["svc.test."]?.serial)
    }

    @Test("concurrent writers on one backend: every acknowledged write is kept and seen by both", arguments: Backend.available)
    func concurrentWriters(backend: Backend) async throws {
        let shared = try await Shared(backend)
        defer { shared.fixture.remove() }
        let first = try await shared.open()
        let second = try await shared.open()
        let name: DNSName = "_acme-challenge.race.svc.test."
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<30 {
                let store = index.isMultiple(of: 2) ? first : second
                group.addTask { try await store.addChallenge(Self.challenge(name, "v\(index)")) }
            }
            try await group.waitForAll()
        }
        _ = try await first.catchUp()
        _ = try await second.catchUp()
        let expected = (0..<30).map { "v\($0)" }.sorted()
        #expect(await RecordStoreTests.txt(first, name) == expected)
        #expect(await RecordStoreTests.txt(second, name) == expected)
        #expect(first.snapshot()["svc.test."]?.serial == second.snapshot()["svc.test."]?.serial)
        let reopened = try await shared.open()
        #expect(await RecordStoreTests.txt(reopened, name) == expected)
    }

    @Test("a replica further behind than the kept change log loads everything again", arguments: Backend.available.filter { $0 != .memory })
    func trimmedLogMeansReload(backend: Backend) async throws {
        let shared = try await Shared(backend)
        defer { shared.fixture.remove() }
        let retention = StoreRetention(changes: 4, journalPerZone: 4)
        let writer = try await shared.open(retention: retention)
        let replica = try await shared.open(retention: retention)
        for index in 0..<80 {
            try await writer.addChallenge(Self.challenge(try DNSName("_acme-challenge.t\(index).svc.test."), "v"))
        }
        _ = try await replica.catchUp()
        #expect(replica.challenges().count == 80)
        #expect(replica.snapshot()["svc.test."]?.serial == writer.snapshot()["svc.test."]?.serial)
        #expect(try await writer.journal(origin: "svc.test.").count <= 4 + 64, "the journal is trimmed")
    }

    @Test("the journal holds each serial's removed and added records, in order", arguments: Backend.available)
    func journal(backend: Backend) async throws {
        let shared = try await Shared(backend)
        defer { shared.fixture.remove() }
        let store = try await shared.open()
        let start = try #require(store.snapshot()["svc.test."]?.serial)
        let record = try ResourceRecord(presentation: "j.svc.test. 60 A 192.0.2.30")
        try await store.add([record])
        try await store.addChallenge(Self.challenge("_acme-challenge.j.svc.test.", "tok"))
        try await store.remove([record])
        let deltas = try await store.journal(origin: "svc.test.")
        #expect(deltas.map(\.fromSerial) == [start, start + 1, start + 2])
        #expect(deltas.map(\.toSerial) == [start + 1, start + 2, start + 3])
        #expect(deltas[0].removed.map(\.type) == [.soa] && deltas[0].added.map(\.description).contains("j.svc.test. 60 IN A 192.0.2.30"))
        #expect(deltas[1].added.map(\.description).contains("_acme-challenge.j.svc.test. 60 IN TXT \"tok\""))
        #expect(deltas[2].removed.map(\.description).contains("j.svc.test. 60 IN A 192.0.2.30"))
        // Each delta's SOAs carry its serials, as IXFR sends them (RFC 1995).
        for delta in deltas {
            #expect(delta.removed.first.flatMap { if case .soa(let soa) = $0.data { soa.serial } else { nil } } == delta.fromSerial)
            #expect(delta.added.first.flatMap { if case .soa(let soa) = $0.data { soa.serial } else { nil } } == delta.toSerial)
        }
        // What an IXFR from a secondary at start + 1 reads: only the entries after it.
        #expect(try await store.journal(origin: "svc.test.", since: start + 1).map(\.fromSerial) == [start + 1, start + 2])
        #expect(try await store.journal(origin: "svc.test.", since: start + 40).isEmpty)
        // A write that changes nothing served (an account) is no zone change.
        try await store.putAccount(Account(username: "u", passwordHash: "h", subdomain: "s", allowFrom: []))
        #expect(try await store.journal(origin: "svc.test.").count == 3)
        #expect(store.snapshot()["svc.test."]?.serial == start + 3)
    }

    @Test("one commit that writes a row, deletes it and writes others keeps exactly the end result, in the database too", arguments: Backend.available)
    func commitKeepsOperationOrder(backend: Backend) async throws {
        let shared = try await Shared(backend)
        defer { shared.fixture.remove() }
        let writer = try await shared.open()
        let name: DNSName = "_acme-challenge.order.svc.test."
        let records = try (1...40).map { try ResourceRecord(presentation: "h\($0).order.svc.test. 60 A 192.0.2.\($0)") }
        // Distinct rows only: PostgreSQL gets them in one statement.
        _ = try await writer.write { _ in (records.map { .put(.record($0, fromConfiguration: false)) }, 1) }
        // The same row twice: they must run in order.
        _ = try await writer.write { _ in
            ([.put(.challenge(Self.challenge(name, "gone"))), .delete(.challenge(Self.challenge(name, "gone"))),
              .put(.challenge(Self.challenge(name, "kept")))], 1)
        }
        #expect(await RecordStoreTests.txt(writer, name) == ["kept"])
        let fresh = try await shared.open()
        #expect(await RecordStoreTests.txt(fresh, name) == ["kept"])
        #expect(fresh.view().storedRecords(at: "h40.order.svc.test.").count == 1)
        #expect(records.allSatisfy { fresh.snapshot().lookup($0.name, type: .a).answer.count == 1 })
        #expect(fresh.snapshot()["svc.test."]?.serial == writer.snapshot()["svc.test."]?.serial)
    }

    @Test("a store opened for the directory alone reads no zone, commits credentials and keys that serving stores apply, passes over their zone writes and refuses its own",
          arguments: Backend.available)
    func directoryStore(backend: Backend) async throws {
        let shared = try await Shared(backend)
        defer { shared.fixture.remove() }
        let server = try await shared.open()
        try await server.add([try ResourceRecord(presentation: "kept.svc.test. 60 A 192.0.2.30")])
        try await server.putAccount(Account(username: "u1", passwordHash: "h", subdomain: "s1", allowFrom: []))
        let directory = try await shared.openDirectory()
        #expect(!directory.holdsZones)
        #expect(directory.view().zones.isEmpty && directory.view().recordCount == 0)
        #expect(directory.account(username: "u1")?.subdomain == "s1")

        // The server writes zones and a credential; the directory store commits on top of them.
        try await server.addChallenge(Self.challenge("_acme-challenge.kept.svc.test.", "v1"))
        try await server.putCredential(APICredential(name: "first", secretHash: "h1", allowedNames: ["*.svc.test"], allowedSources: []))
        let servedSerial = try #require(server.snapshot()["svc.test."]?.serial)
        try await directory.putCredential(APICredential(name: "second", secretHash: "h2", allowedNames: ["svc.test"], allowedSources: []))
        try await directory.putTSIGKey(TSIGKey(name: "k1.", algorithm: "hmac-sha256.", secret: [1, 2, 3], allowedNames: ["*.svc.test"], allowedSources: []))
        #expect(directory.credentials().map(\.name).sorted() == ["first", "second"])
        #expect(await directory.position == server.position + 2)

        // Its own zone writes fail and write nothing.
        await #expect(throws: ZoneStoreError.self) { try await directory.addChallenge(Self.challenge("_acme-challenge.kept.svc.test.", "v2")) }
        await #expect(throws: ZoneStoreError.self) { try await directory.add([try ResourceRecord(presentation: "no.svc.test. 60 A 192.0.2.31")]) }
        #expect(try await server.catchUp() == 2)
        #expect(await server.position == directory.position)
        #expect(server.credential(name: "second")?.allowedNames == ["svc.test"])
        #expect(server.tsigKey(name: "k1.") != nil)
        #expect(server.snapshot()["svc.test."]?.serial == servedSerial, "credentials and keys change no zone")
        #expect(await RecordStoreTests.txt(server, "_acme-challenge.kept.svc.test.") == ["v1"])
        #expect(server.snapshot().lookup("kept.svc.test.", type: .a).answer.count == 1)
        #expect(server.snapshot()["svc.test."]?.records(at: "no.svc.test.").isEmpty == true)
        #expect(try await directory.removeCredential(name: "first"))
        #expect(try await server.catchUp() == 1)
        #expect(server.credential(name: "first") == nil)
    }

    @Test("the health check answers while another process holds SQLite's write lock; a write waits for it")
    func healthDoesNotTakeTheWriteLock() async throws {
        let fixture = try await RecordStoreTests.Fixture(.sqlite)
        defer { fixture.remove() }
        let store = try await fixture.open()
        let other = try SQLiteConnection(path: fixture.path)
        try other.execute("BEGIN IMMEDIATE")
        try await store.checkHealth()
        let write = Task { try await store.addChallenge(Self.challenge("_acme-challenge.lock.svc.test.", "v")) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(store.challenges().isEmpty, "the write cannot commit while the lock is held")
        try other.execute("COMMIT")
        try await write.value
        #expect(store.challenges().map(\.value) == ["v"])
    }

    @Test("an SQLite file of another program is refused, untouched")
    func foreignSQLiteFileIsRefused() async throws {
        let fixture = try await RecordStoreTests.Fixture(.sqlite)
        defer { fixture.remove() }
        let other = try SQLiteConnection(path: fixture.path)
        try other.execute("CREATE TABLE notes (body TEXT)")
        #expect(throws: ZoneStoreError.self) { _ = try SQLiteBackend(path: fixture.path) }
        let tables = try other.run("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text }
        #expect(tables == ["notes"])
    }
}
