import DNSWire

/// One zone's records arranged for lookup: a hash map from owner name to the
/// RRsets there, with empty non-terminals present as nodes without data, and
/// wildcards also filed under their parent so that a miss finds its source
/// of synthesis without building a name. A final class: a query takes one
/// reference to it instead of copying its fields.
public final class ZoneIndex: Sendable {
    struct Node: Sendable {
        /// Sorted by type, so ANY's minimal answer is the lowest type (as Knot).
        var rrsets: [RRset]
        /// NS below the apex: a zone cut.
        var isDelegation: Bool

        func rrset(_ type: RRType) -> RRset? {
            for rrset in rrsets where rrset.type == type { return rrset }
            return nil
        }
    }

    public let origin: DNSName
    public let soa: ResourceRecord
    /// The SOA as negative answers carry it: TTL = min(SOA TTL, minimum) (RFC 2308 §3).
    let negativeSOA: RRset
    let nodes: [DNSName: Node]
    /// `*.X` nodes keyed by X.
    let wildcards: [DNSName: Node]
    let hasDelegations: Bool

    /// Builds the index. Records must be inside `origin`; exactly one SOA at the apex.
    public init(origin: DNSName, records: [ResourceRecord]) throws(ZoneStoreError) {
        self.origin = origin
        var byName: [DNSName: [RRType: [ResourceRecord]]] = [:]
        var ownerSpelling: [DNSName: DNSName] = [:]
        for record in records {
            guard record.name.isSubdomain(of: origin) else {
                throw ZoneStoreError(.outOfZone, name: record.name, "\(record.name) is not inside zone \(origin)")
            }
            ownerSpelling[record.name] = ownerSpelling[record.name] ?? record.name
            var types = byName[record.name, default: [:]]
            var set = types[record.type, default: []]
            // An RRset holds no duplicate data (RFC 2181 §5); its TTL is the first one given.
            if !set.contains(where: { $0.data == record.data }) {
                var adjusted = record
                if let first = set.first { adjusted.ttl = first.ttl }
                set.append(adjusted)
            }
            types[record.type] = set
            byName[record.name] = types
        }
        guard let soaRecord = byName[origin]?[.soa]?.first, case .soa(let soaData) = soaRecord.data else {
            throw ZoneStoreError(.badRecord, name: origin, "zone \(origin) has no SOA")
        }
        soa = soaRecord
        var negative = soaRecord
        negative.ttl = min(soaRecord.ttl, soaData.minimum)
        negativeSOA = RRset(name: origin, type: .soa, records: [negative])

        var nodes: [DNSName: Node] = [:]
        var delegations = false
        for (name, types) in byName {
            if types[.cname] != nil && types.count > 1 {
                throw ZoneStoreError(.cnameConflict, name: name, "\(name) has a CNAME and other data")
            }
            let owner = ownerSpelling[name] ?? name
            let rrsets = types.map { RRset(name: owner, type: $0.key, records: $0.value) }.sorted { $0.type.rawValue < $1.type.rawValue }
            let isCut = name != origin && types[.ns] != nil
            delegations = delegations || isCut
            nodes[name] = Node(rrsets: rrsets, isDelegation: isCut)
            // Empty non-terminals: every ancestor up to the apex exists as a node.
            // A real node processed later replaces its empty placeholder.
            var ancestor = name.parent
            while let current = ancestor, current != origin, nodes[current] == nil {
                nodes[current] = Node(rrsets: [], isDelegation: false)
                ancestor = current.parent
            }
        }
        var wildcards: [DNSName: Node] = [:]
        for (name, node) in nodes where name.isWildcard {
            if let parent = name.parent { wildcards[parent] = node }
        }
        self.nodes = nodes
        self.wildcards = wildcards
        self.hasDelegations = delegations
    }

    /// All records of the zone, SOA first (for transfers and tests).
    public var allRecords: [ResourceRecord] {
        let rest = nodes.values.flatMap { $0.rrsets.flatMap(\.records) }.filter { $0.type != .soa }
        return [soa] + rest.sorted { ($0.name, $0.type.rawValue) < ($1.name, $1.type.rawValue) }
    }

    /// The current serial.
    public var serial: UInt32 {
        if case .soa(let data) = soa.data { return data.serial }
        return 0
    }
}

private func < (lhs: (DNSName, UInt16), rhs: (DNSName, UInt16)) -> Bool {
    lhs.0 == rhs.0 ? lhs.1 < rhs.1 : lhs.0 < rhs.0
}
