import DNSWire

/// What a zone is made of before it is served: its apex, SOA fields, apex
/// name servers and static records. The daemon builds one from each
/// `[[zone]]` table of the configuration.
public struct ZoneConfiguration: Sendable, Hashable {
    public var origin: DNSName
    /// Apex NS targets; the first is the SOA mname.
    public var nameservers: [DNSName]
    /// SOA rname, `admin.svc.dev.` for admin@svc.dev.
    public var admin: DNSName
    /// TTL of the SOA and NS records and default TTL of static records.
    public var ttl: UInt32
    /// The SOA minimum, the negative-caching TTL (RFC 2308).
    public var negativeTTL: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    /// The first serial; every change raises it.
    public var serial: UInt32
    public var records: [ResourceRecord]

    public init(
        origin: DNSName, nameservers: [DNSName], admin: DNSName, ttl: UInt32 = 3600, negativeTTL: UInt32 = 300,
        refresh: UInt32 = 7200, retry: UInt32 = 3600, expire: UInt32 = 1_209_600, serial: UInt32 = 1, records: [ResourceRecord] = []
    ) {
        self.origin = origin
        self.nameservers = nameservers
        self.admin = admin
        self.ttl = ttl
        self.negativeTTL = negativeTTL
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.serial = serial
        self.records = records
    }

    /// The zone's SOA record at `serial`.
    public func soa(serial: UInt32) -> ResourceRecord {
        ResourceRecord(name: origin, ttl: ttl, data: .soa(SOA(
            mname: nameservers.first ?? origin, rname: admin, serial: serial,
            refresh: refresh, retry: retry, expire: expire, minimum: negativeTTL)))
    }

    /// SOA, apex NS and static records, checked to be servable in this zone.
    public func validatedRecords() throws(ZoneStoreError) -> [ResourceRecord] {
        var all = [soa(serial: serial)] + nameservers.map { ResourceRecord(name: origin, ttl: ttl, data: .ns($0)) }
        for record in records {
            guard record.name.isSubdomain(of: origin) else {
                throw ZoneStoreError(.outOfZone, name: record.name, "\(record.name) is not inside zone \(origin)")
            }
            guard !record.type.isMetaType, record.rrClass == .in else {
                throw ZoneStoreError(.badRecord, name: record.name, "\(record.rrClass) \(record.type) cannot be served from a zone")
            }
            guard record.type != .soa else {
                throw ZoneStoreError(.badRecord, name: record.name, "the SOA comes from the zone settings, not from records")
            }
            all.append(record)
        }
        return all
    }
}
