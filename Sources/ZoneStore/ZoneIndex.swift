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

    private init(origin: DNSName, soa: ResourceRecord, nodes: [DNSName: Node], wildcards: [DNSName: Node], hasDelegations: Bool) throws(ZoneStoreError) {
        guard case .soa(let soaData) = soa.data, soa.name == origin else {
            throw ZoneStoreError(.badRecord, name: origin, "zone \(origin) has no SOA")
        }
        self.origin = origin
        self.soa = soa
        var negative = soa
        negative.ttl = min(soa.ttl, soaData.minimum)
        negativeSOA = RRset(name: origin, type: .soa, records: [negative])
        self.nodes = nodes
        self.wildcards = wildcards
        self.hasDelegations = hasDelegations
    }

    /// Builds the index. Records must be inside `origin`; exactly one SOA at the apex.
    public convenience init(origin: DNSName, records: [ResourceRecord]) throws(ZoneStoreError) {
        var byName: [DNSName: [ResourceRecord]] = [:]
        for record in records {
            guard record.name.isSubdomain(of: origin) else {
                throw ZoneStoreError(.outOfZone, name: record.name, "\(record.name) is not inside zone \(origin)")
            }
            byName[record.name, default: []].append(record)
        }
        guard let soa = byName[origin]?.first(where: { $0.type == .soa }) else {
            throw ZoneStoreError(.badRecord, name: origin, "zone \(origin) has no SOA")
        }
        var nodes: [DNSName: Node] = [:]
        var wildcards: [DNSName: Node] = [:]
        var delegations = false
        for (name, records) in byName {
            guard let node = try Self.node(name, records, origin: origin) else { continue }
            delegations = delegations || node.isDelegation
            Self.insert(node, at: name, origin: origin, nodes: &nodes, wildcards: &wildcards)
        }
        try self.init(origin: origin, soa: soa, nodes: nodes, wildcards: wildcards, hasDelegations: delegations)
    }

    /// A copy in which only `names` changed: each gets the records
    /// `recordsAt` returns for it (none removes it), empty non-terminals and
    /// wildcards follow, and the SOA is replaced. Equal to a full rebuild at a
    /// fraction of its cost: a write to a large zone touches a few names.
    public func updating(_ names: Set<DNSName>, soa newSOA: ResourceRecord, recordsAt: (DNSName) -> [ResourceRecord]) throws(ZoneStoreError) -> ZoneIndex {
        var nodes = self.nodes
        var wildcards = self.wildcards
        var delegations = hasDelegations
        var recheckDelegations = false
        for name in names.union([origin]) {
            guard name.isSubdomain(of: origin) else {
                throw ZoneStoreError(.outOfZone, name: name, "\(name) is not inside zone \(origin)")
            }
            var records = recordsAt(name)
            if name == origin { records = [newSOA] + records.filter { $0.type != .soa } }
            if nodes[name]?.isDelegation == true { recheckDelegations = true }
            if let node = try Self.node(name, records, origin: origin) {
                delegations = delegations || node.isDelegation
                Self.insert(node, at: name, origin: origin, nodes: &nodes, wildcards: &wildcards)
            } else {
                Self.remove(name, origin: origin, nodes: &nodes, wildcards: &wildcards)
            }
        }
        if recheckDelegations { delegations = nodes.values.contains { $0.isDelegation } }
        return try ZoneIndex(origin: origin, soa: newSOA, nodes: nodes, wildcards: wildcards, hasDelegations: delegations)
    }

    /// The node for one name's records, or nil when there are none. An RRset
    /// holds no duplicate data and takes the first TTL given (RFC 2181 §5).
    static func node(_ name: DNSName, _ records: [ResourceRecord], origin: DNSName) throws(ZoneStoreError) -> Node? {
        guard let first = records.first else { return nil }
        var rrsets: [RRset] = []
        var types: [RRType] = []
        for record in records where !types.contains(record.type) { types.append(record.type) }
        if types.contains(.cname) && types.count > 1 {
            throw ZoneStoreError(.cnameConflict, name: name, "\(name) has a CNAME and other data")
        }
        for type in types.sorted(by: { $0.rawValue < $1.rawValue }) {
            var set: [ResourceRecord] = []
            for record in records where record.type == type && !set.contains(where: { $0.data == record.data }) {
                var adjusted = record
                adjusted.name = first.name
                if let head = set.first { adjusted.ttl = head.ttl }
                set.append(adjusted)
            }
            rrsets.append(RRset(name: first.name, type: type, records: set))
        }
        return Node(rrsets: rrsets, isDelegation: name != origin && types.contains(.ns))
    }

    /// Files `node` under `name`, creating empty non-terminals up to the apex.
    static func insert(_ node: Node, at name: DNSName, origin: DNSName, nodes: inout [DNSName: Node], wildcards: inout [DNSName: Node]) {
        nodes[name] = node
        if name.isWildcard, let parent = name.parent { wildcards[parent] = node }
        var ancestor = name.parent
        while let current = ancestor, current != origin, nodes[current] == nil {
            nodes[current] = Node(rrsets: [], isDelegation: false)
            ancestor = current.parent
        }
    }

    /// Removes `name`'s data: it stays as an empty non-terminal while names
    /// below it exist, and empty ancestors left with nothing below go too.
    static func remove(_ name: DNSName, origin: DNSName, nodes: inout [DNSName: Node], wildcards: inout [DNSName: Node]) {
        guard nodes[name] != nil, name != origin else { return }
        if name.isWildcard, let parent = name.parent { wildcards[parent] = nil }
        var current = name
        while current != origin {
            let hasChildren = nodes.keys.contains { $0 != current && $0.isSubdomain(of: current) }
            if hasChildren {
                nodes[current] = Node(rrsets: [], isDelegation: false)
                return
            }
            nodes[current] = nil
            guard let parent = current.parent, parent != origin, let above = nodes[parent], above.rrsets.isEmpty else { return }
            current = parent
        }
    }

    /// The current serial.
    public var serial: UInt32 {
        if case .soa(let data) = soa.data { return data.serial }
        return 0
    }
}
