import DNSWire
import Foundation
import Testing
@testable import ZoneStore

/// Runtime record edits (`cdnsd record`, the admin API) on every engine:
/// refusals leave the store untouched, every change raises the serial, and
/// another replica on the same backend serves it after catching up.
@Suite("Runtime records")
struct RuntimeRecordsTests {
    typealias Backend = RecordStoreTests.Backend

    @Test("add and remove at runtime, on every replica; SOA, apex NS and config records refused", arguments: Backend.available)
    func runtimeRecords(backend: Backend) async throws {
        let shared = try await ChangeLogTests.Shared(backend)
        defer { shared.fixture.remove() }
        let writer = try await shared.open()
        let replica = try await shared.open()
        let serial0 = try #require(writer.view().serial(of: "svc.test."))

        let record = try RecordLine.record("ca.svc.test A 10.8.10.253", view: writer.view())
        #expect(record.ttl == 3600, "the zone's TTL when the line has none")
        try await writer.add([record])
        let serial1 = try #require(writer.view().serial(of: "svc.test."))
        #expect(serial1 > serial0)
        try await replica.catchUp()
        let served: [RecordData] = replica.snapshot().lookup("ca.svc.test.", type: .a).answer.flatMap(\.records).map(\.data)
        #expect(served == [.a(IPv4Address(10, 8, 10, 253))])

        for (line, code) in [("svc.test. SOA", ZoneStoreError.Code.badRecord), ("svc.test. NS", .badRecord), ("www.svc.test. A", .conflict),
                             ("www.elsewhere.example. A", .noSuchZone)] {
            let target = try RecordLine.removal(line)
            await #expect(throws: ZoneStoreError.self, "\(line)") {
                do throws(ZoneStoreError) {
                    try await writer.removeRuntimeRecords(name: target.name, type: target.type, data: target.data)
                } catch {
                    #expect(error.code == code, "\(line): \(error)")
                    throw error
                }
            }
        }
        #expect(writer.view().serial(of: "svc.test.") == serial1, "refusals change nothing")
        #expect(throws: ZoneStoreError.self) { try RecordLine.record("garbage", view: writer.view()) }
        #expect(throws: ZoneStoreError.self) { try RecordLine.removal("www.svc.test. NOTATYPE") }

        // A CNAME beside other data, at runtime, is refused (RFC 1034 §3.6.2).
        await #expect(throws: ZoneStoreError.self) { try await writer.add([try ResourceRecord(presentation: "ca.svc.test. CNAME www.svc.test.")]) }

        try await writer.add([try ResourceRecord(presentation: "ca.svc.test. A 10.8.10.254")])
        let target = try RecordLine.removal("ca.svc.test. A 10.8.10.253")
        #expect(try await writer.removeRuntimeRecords(name: target.name, type: target.type, data: target.data) == 1)
        #expect(try await writer.removeRuntimeRecords(name: "ca.svc.test.", type: .a) == 1, "NAME TYPE removes the rest of the RRset")
        #expect(try await writer.removeRuntimeRecords(name: "ca.svc.test.", type: .a) == 0)
        try await replica.catchUp()
        #expect(replica.snapshot().lookup("ca.svc.test.", type: .a).answer.map(\.rrset.name) == ["*.svc.test."], "only the wildcard is left")
        #expect(try #require(replica.view().serial(of: "svc.test.")) > serial1)

        // A zone added at runtime reaches the replica and survives reconcile.
        try await writer.putZone(ZoneConfiguration(origin: "lab.test.", nameservers: ["ns1.svc.test."], admin: "admin.lab.test."))
        try await writer.add([try ResourceRecord(presentation: "www.lab.test. A 10.9.0.1")])
        try await writer.reconcile(configuration: [LookupTests.zone])
        try await replica.catchUp()
        #expect(replica.snapshot().lookup("www.lab.test.", type: .a).answer.count == 1)
    }
}
