import DNSWire

/// Runtime record edits as `cdnsd record` and the admin API make them:
/// one name and type at a time, refusing what only the zone settings or
/// the configuration file may change.
extension ZoneRecordStore {
    /// Removes runtime records at `name` of `type`: the one whose data is
    /// `data`, or the whole runtime RRset when `data` is nil. The SOA and
    /// the apex NS come from the zone's settings and are refused; records
    /// the configuration file seeds are refused too (the file would put
    /// them back on the next reload). Returns how many were removed.
    @discardableResult
    public func removeRuntimeRecords(name: DNSName, type: RRType, data: RecordData? = nil) async throws(ZoneStoreError) -> Int {
        try await write { view throws(ZoneStoreError) in
            guard let zone = view.zone(containing: name) else {
                throw ZoneStoreError(.noSuchZone, name: name, "\(name) is in no zone served here")
            }
            guard type != .soa else {
                throw ZoneStoreError(.badRecord, name: name, "the SOA comes from the zone settings: change them with cdnsd zone add or the configuration file")
            }
            guard !(type == .ns && name == zone.origin) else {
                throw ZoneStoreError(.badRecord, name: name, "the apex NS records come from the zone's name servers: change them with cdnsd zone add or the configuration file")
            }
            let matching = view.storedRecords(at: name).filter { $0.record.type == type && (data == nil || $0.record.data == data) }
            if let seeded = matching.first(where: \.fromConfiguration) {
                throw ZoneStoreError(.conflict, name: name, "\(seeded.record) comes from the configuration file (it wins for the RRsets it names): remove it there and reload")
            }
            return (matching.map { .delete(.record($0.record, fromConfiguration: false)) }, matching.count)
        }
    }
}

/// Record lines as `cdnsd record` and the admin API take them, read the
/// way `[[zone]] records` are: presentation form, names absolute with or
/// without the final dot, the zone's TTL when the line has none.
public enum RecordLine {
    /// One record to add, e.g. `ca.svc.dev. 300 A 10.8.10.253`.
    public static func record(_ line: String, view: StoreView) throws(ZoneStoreError) -> ResourceRecord {
        let parsed: ResourceRecord
        do {
            parsed = try ResourceRecord(presentation: line)
        } catch {
            throw ZoneStoreError(.badRecord, "not a record (expected NAME [TTL] TYPE RDATA): \(error.detail)")
        }
        guard let zone = view.zone(containing: parsed.name) else {
            throw ZoneStoreError(.noSuchZone, name: parsed.name, "\(parsed.name) is in no zone served here")
        }
        // Again with the zone's TTL as the default, when the line names none.
        return (try? ResourceRecord(presentation: line, defaultTTL: zone.ttl)) ?? parsed
    }

    /// What to remove: `NAME TYPE` (the whole runtime RRset) or
    /// `NAME [TTL] TYPE RDATA` (one record).
    public static func removal(_ line: String) throws(ZoneStoreError) -> (name: DNSName, type: RRType, data: RecordData?) {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if words.count == 2 {
            guard let name = try? DNSName(String(words[0])) else {
                throw ZoneStoreError(.badRecord, "\(words[0]) is not a domain name")
            }
            guard let type = RRType(mnemonic: words[1]) else {
                throw ZoneStoreError(.badRecord, "\(words[1]) is not a record type")
            }
            return (name, type, nil)
        }
        do {
            let record = try ResourceRecord(presentation: line)
            return (record.name, record.type, record.data)
        } catch {
            throw ZoneStoreError(.badRecord, "expected NAME TYPE [RDATA]: \(error.detail)")
        }
    }
}

extension ZoneRecordStore {
    /// The checks `add` makes of a runtime record, for write plans made
    /// elsewhere: servable, in a zone, not the SOA or apex NS.
    public static func checkRuntimeRecord(_ record: ResourceRecord, view: StoreView) throws(ZoneStoreError) {
        try checkRuntime(record, view: view)
    }
}
