import DNSWire

/// A `RecordStore` held in memory only: for tests and for tools that embed
/// ZoneStore. Static records come from the zone configurations; dynamic
/// records are added and removed at run time.
public actor MemoryRecordStore: RecordStore {
    private var configurations: [DNSName: ZoneConfiguration]
    private var serials: [DNSName: UInt32]
    private var dynamic: [DNSName: [ResourceRecord]] = [:]
    private var current: ZoneSnapshot
    private var subscribers: [any SnapshotSubscriber] = []

    public init(zones: [ZoneConfiguration]) throws(ZoneStoreError) {
        var configurations: [DNSName: ZoneConfiguration] = [:]
        var indexes: [ZoneIndex] = []
        for zone in zones {
            guard configurations[zone.origin] == nil else {
                throw ZoneStoreError(.duplicateZone, name: zone.origin, "zone \(zone.origin) is defined twice")
            }
            configurations[zone.origin] = zone
            indexes.append(try ZoneIndex(origin: zone.origin, records: try zone.validatedRecords()))
        }
        self.configurations = configurations
        self.serials = configurations.mapValues(\.serial)
        self.current = try ZoneSnapshot(zones: indexes)
    }

    public func snapshot() -> ZoneSnapshot { current }

    public func subscribe(_ subscriber: any SnapshotSubscriber) async {
        subscribers.append(subscriber)
        await subscriber.apply(current)
    }

    public func add(_ records: [ResourceRecord]) async throws(ZoneStoreError) {
        try await change(records.map(\.name)) { (dynamic) throws(ZoneStoreError) in
            for record in records {
                let origin = try self.origin(of: record.name)
                if !(dynamic[origin, default: []].contains { $0.name == record.name && $0.data == record.data }) {
                    dynamic[origin, default: []].append(record)
                }
            }
        }
    }

    public func remove(_ records: [ResourceRecord]) async throws(ZoneStoreError) {
        try await change(records.map(\.name)) { (dynamic) throws(ZoneStoreError) in
            for record in records {
                let origin = try self.origin(of: record.name)
                dynamic[origin]?.removeAll { $0.name == record.name && $0.data == record.data }
            }
        }
    }

    public func replaceRRset(name: DNSName, type: RRType, with records: [ResourceRecord]) async throws(ZoneStoreError) {
        try await change([name]) { (dynamic) throws(ZoneStoreError) in
            let origin = try self.origin(of: name)
            dynamic[origin, default: []].removeAll { $0.name == name && $0.type == type }
            dynamic[origin, default: []].append(contentsOf: records)
        }
    }

    private func origin(of name: DNSName) throws(ZoneStoreError) -> DNSName {
        guard let zone = current.zone(containing: name) else {
            throw ZoneStoreError(.noSuchZone, name: name, "\(name) is in no zone served here")
        }
        return zone.origin
    }

    /// Applies `mutate` to a copy, rebuilds the touched zones with a raised
    /// serial, and publishes; on any error nothing changes.
    private func change(_ names: [DNSName], _ mutate: (inout [DNSName: [ResourceRecord]]) throws(ZoneStoreError) -> Void) async throws(ZoneStoreError) {
        var updated = dynamic
        try mutate(&updated)
        var touched: [DNSName] = []
        for name in names {
            let origin = try origin(of: name)
            if !touched.contains(origin) { touched.append(origin) }
        }
        var snapshot = current
        var newSerials = serials
        for origin in touched {
            guard let configuration = configurations[origin] else { continue }
            let serial = (newSerials[origin] ?? configuration.serial) &+ 1
            var records = try configuration.validatedRecords()
            records[0] = configuration.soa(serial: serial)
            records += updated[origin] ?? []
            snapshot = snapshot.replacing(try ZoneIndex(origin: origin, records: records))
            newSerials[origin] = serial
        }
        dynamic = updated
        serials = newSerials
        current = snapshot
        for subscriber in subscribers { await subscriber.apply(snapshot) }
    }
}
