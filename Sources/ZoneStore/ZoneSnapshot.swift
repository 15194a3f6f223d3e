import DNSWire

/// Every zone we serve, frozen at one moment: what the DNS server answers
/// from. Immutable, so any number of event loops read it without locks; the
/// store builds a new one on every committed change.
public struct ZoneSnapshot: Sendable {
    let zones: [DNSName: ZoneIndex]
    let deepestOrigin: Int
    /// Grows with every snapshot a store publishes, so that a subscriber
    /// receiving two snapshots out of order keeps the newer.
    public internal(set) var generation: UInt64 = 0

    public init(zones: [ZoneIndex]) throws(ZoneStoreError) {
        var byOrigin: [DNSName: ZoneIndex] = [:]
        for zone in zones {
            guard byOrigin[zone.origin] == nil else {
                throw ZoneStoreError(.duplicateZone, name: zone.origin, "zone \(zone.origin) is defined twice")
            }
            byOrigin[zone.origin] = zone
        }
        self.zones = byOrigin
        deepestOrigin = zones.map(\.origin.labelCount).max() ?? 0
    }

    init(uncheckedZones: [DNSName: ZoneIndex]) {
        zones = uncheckedZones
        deepestOrigin = uncheckedZones.keys.map(\.labelCount).max() ?? 0
    }

    /// The apexes served.
    public var origins: [DNSName] { zones.keys.sorted() }

    /// The zone with this apex.
    public subscript(origin: DNSName) -> ZoneIndex? { zones[origin] }

    /// The most specific zone containing `name`, if we serve one.
    public func zone(containing name: DNSName) -> ZoneIndex? {
        var candidate = name
        let extra = name.labelCount - deepestOrigin
        if extra > 0 { candidate = name.droppingFirstLabels(extra) }
        while true {
            if let zone = zones[candidate] { return zone }
            guard let parent = candidate.parent else { return nil }
            candidate = parent
        }
    }

    /// A copy with `zone` added or replaced.
    public func replacing(_ zone: ZoneIndex) -> ZoneSnapshot {
        var zones = self.zones
        zones[zone.origin] = zone
        var next = ZoneSnapshot(uncheckedZones: zones)
        next.generation = generation &+ 1
        return next
    }
}
