import DNSWire
import Testing
@testable import ZoneStore

/// A store updates only the names a change touches. After every step of a
/// random sequence of changes, that index must equal a full rebuild.
@Suite("Incremental index")
struct IncrementalIndexTests {
    static func describe(_ index: ZoneIndex) -> [String] {
        var lines = index.nodes.map { name, node in
            "\(name.lowercased()) cut=\(node.isDelegation) " + node.rrsets.flatMap(\.records).map(\.description).sorted().joined(separator: " | ")
        }
        lines += index.wildcards.map { "wildcard under \($0.key.lowercased()): \($0.value.rrsets.flatMap(\.records).count)" }
        lines.append("delegations=\(index.hasDelegations) soa=\(index.soa)")
        return lines.sorted()
    }

    static func change(_ store: ZoneRecordStore, adding: Bool, _ record: ResourceRecord) async -> ZoneStoreError? {
        do {
            if adding { try await store.add([record]) } else { try await store.remove([record]) }
            return nil
        } catch {
            return error
        }
    }

    @Test func randomChangesMatchAFullRebuild() async throws {
        let zone = LookupTests.zone
        let store = try await ZoneRecordStore(zones: [zone])
        let owners = ["a.svc.test.", "b.a.svc.test.", "c.b.a.svc.test.", "*.svc.test.", "*.a.svc.test.", "x.*.svc.test.",
                      "sub2.svc.test.", "ns.sub2.svc.test.", "deep.er.sub2.svc.test.", "svc.test.", "q.wc.svc.test.", "www.svc.test."]
        let data: [RecordData] = [
            .a(IPv4Address(192, 0, 2, 1)), .a(IPv4Address(192, 0, 2, 2)), .txt(TXT(text: "t1")), .txt(TXT(text: "t2")),
            .ns("ns.sub2.svc.test."), .aaaa(IPv6Address("2001:db8::5")!), .cname("www.svc.test."),
        ]
        var dynamic: [ResourceRecord] = []
        var generator = SystemRandomNumberGenerator()
        var applied = 0
        for _ in 0..<400 {
            let record = ResourceRecord(name: try DNSName(owners.randomElement(using: &generator)!), ttl: 60, data: data.randomElement(using: &generator)!)
            let adding = Bool.random(using: &generator) || dynamic.isEmpty
            let target = adding ? record : dynamic.randomElement(using: &generator)!
            if let error = await Self.change(store, adding: adding, target) {
                // A CNAME next to other data, and apex NS (they come from the zone's
                // settings), are refused; the store must be unchanged then.
                let apexNS = target.name == zone.origin && target.type == .ns
                #expect(error.code == (apexNS ? .badRecord : .cnameConflict))
            } else {
                if adding {
                    if !dynamic.contains(where: { $0.name == target.name && $0.data == target.data }) { dynamic.append(target) }
                } else {
                    dynamic.removeAll { $0.name == target.name && $0.data == target.data }
                }
                applied += 1
            }
            let incremental = try #require(store.snapshot()["svc.test."])
            var all = try zone.validatedRecords()
            all[0] = incremental.soa
            let rebuilt = try ZoneIndex(origin: zone.origin, records: all + dynamic)
            let expected = Self.describe(rebuilt)
            let actual = Self.describe(incremental)
            #expect(actual == expected, "after \(applied) changes; dynamic: \(dynamic.map(\.description))")
            if actual != expected { break }
        }
        #expect(applied > 100)
    }
}
