import DNSWire
import HashTreeCollections

/// How the lookup treats challenge records (the `[challenge]` settings).
public struct ChallengeSettings: Sendable, Hashable {
    /// TTL of the TXT records served for challenges.
    public var ttl: UInt32
    /// TTL and SOA minimum of negative answers at and below
    /// `_acme-challenge` names, so that a CA asking before the value is
    /// published does not cache the absence for the zone's negative TTL.
    public var negativeTTL: UInt32
    /// Names that exist only because of challenge records below them do not
    /// hide a wildcard above them (a deliberate departure from RFC 4592 for
    /// challenge owners only): `foo.svc.dev` keeps the `*.svc.dev` answer
    /// while `_acme-challenge.foo.svc.dev` has a value.
    public var keepWildcards: Bool
    /// Live challenge values one name holds at most: a write that would add
    /// more fails with `limitReached`. Every value is served in one answer,
    /// and one DNS message holds at most 64 KiB (about 1,100 values of 43
    /// characters), so without a bound a name could become unanswerable.
    public var maxValuesPerName: Int

    public init(ttl: UInt32 = 60, negativeTTL: UInt32 = 5, keepWildcards: Bool = true, maxValuesPerName: Int = 256) {
        self.ttl = ttl
        self.negativeTTL = negativeTTL
        self.keepWildcards = keepWildcards
        self.maxValuesPerName = max(1, maxValuesPerName)
    }
}

/// One zone's records arranged for lookup: a hash trie from owner name to
/// the RRsets there, with empty non-terminals present as nodes without data,
/// and wildcards also filed under their parent so that a miss finds its
/// source of synthesis without building a name.
///
/// The trie (`TreeDictionary`) shares structure between versions, so the
/// store makes the next version from a change in time proportional to the
/// names it touches, not to the zone. A final class: a query takes one
/// reference to it instead of copying its fields.
public final class ZoneIndex: Sendable {
    struct Node: Sendable, Hashable {
        /// Sorted by type, so ANY's minimal answer is the lowest type (as Knot).
        var rrsets: [RRset]
        /// NS below the apex: a zone cut.
        var isDelegation: Bool
        /// Every record here is a challenge TXT value.
        var challengeOnly: Bool
        /// Nodes directly below this one.
        var children: Int32 = 0
        /// Children that are solid (see `isSolid`).
        var solidChildren: Int32 = 0

        func rrset(_ type: RRType) -> RRset? {
            for rrset in rrsets where rrset.type == type { return rrset }
            return nil
        }

        /// Holds data other than challenge values, or has such a node below it.
        var isSolid: Bool { (!rrsets.isEmpty && !challengeOnly) || solidChildren > 0 }

        /// An empty non-terminal with only challenge names below it: with
        /// `keepWildcards`, a wildcard above answers for it.
        var isTransparent: Bool { rrsets.isEmpty && solidChildren == 0 }
    }

    public let origin: DNSName
    public let soa: ResourceRecord
    /// The SOA as negative answers carry it: TTL = min(SOA TTL, minimum) (RFC 2308 §3).
    let negativeSOA: RRset
    /// The SOA of negative answers at and below `_acme-challenge` names.
    let challengeNegativeSOA: RRset
    let keepWildcards: Bool
    let nodes: TreeDictionary<DNSName, Node>
    /// `*.X` nodes keyed by X.
    let wildcards: TreeDictionary<DNSName, Node>
    let delegationCount: Int

    var hasDelegations: Bool { delegationCount > 0 }

    init(draft: Draft, soa: ResourceRecord, settings: ChallengeSettings) {
        origin = draft.origin
        self.soa = soa
        var negative = soa
        var challengeNegative = soa
        if case .soa(var data) = soa.data {
            negative.ttl = min(soa.ttl, data.minimum)
            data.minimum = settings.negativeTTL
            challengeNegative.data = .soa(data)
            challengeNegative.ttl = settings.negativeTTL
        }
        negativeSOA = RRset(name: origin, type: .soa, records: [negative])
        challengeNegativeSOA = RRset(name: origin, type: .soa, records: [challengeNegative])
        keepWildcards = settings.keepWildcards
        var nodes = draft.nodes
        var apex = nodes[origin] ?? Node(rrsets: [], isDelegation: false, challengeOnly: false)
        apex.rrsets.removeAll { $0.type == .soa }
        apex.rrsets.append(RRset(name: origin, type: .soa, records: [soa]))
        apex.rrsets.sort { $0.type.rawValue < $1.type.rawValue }
        apex.challengeOnly = false
        nodes[origin] = apex
        self.nodes = nodes
        wildcards = draft.wildcards
        delegationCount = draft.delegationCount
    }

    /// Builds the index from records that must be inside `origin`, with
    /// exactly one SOA at the apex; challenge settings at their defaults.
    public convenience init(origin: DNSName, records: [ResourceRecord]) throws(ZoneStoreError) {
        let (byName, soa) = try Self.grouped(origin: origin, records: records)
        var draft = Draft(origin: origin)
        for (name, records) in byName {
            try draft.set(name, records: records.filter { $0.type != .soa }, challengeOnly: false)
        }
        self.init(draft: draft, soa: soa, settings: ChallengeSettings())
    }

    /// Throws what `init(origin:records:)` would throw, without building
    /// the index: a record outside `origin`, no SOA, a CNAME beside other data.
    public static func validate(origin: DNSName, records: [ResourceRecord]) throws(ZoneStoreError) {
        for (name, records) in try grouped(origin: origin, records: records).byName {
            _ = try Draft.rrsets(name, records.filter { $0.type != .soa })
        }
    }

    /// `records` by owner name, and the SOA at the apex.
    private static func grouped(origin: DNSName, records: [ResourceRecord]) throws(ZoneStoreError) -> (byName: [DNSName: [ResourceRecord]], soa: ResourceRecord) {
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
        return (byName, soa)
    }

    /// A draft holding this index's contents, to change and freeze again.
    func draft() -> Draft {
        Draft(origin: origin, nodes: nodes, wildcards: wildcards, delegationCount: delegationCount)
    }

    /// The records served at `name` (the SOA included at the apex), as
    /// they are written in answers.
    public func records(at name: DNSName) -> [ResourceRecord] {
        nodes[name]?.rrsets.flatMap(\.records) ?? []
    }

    /// Every record of the zone, the SOA first: what AXFR sends between its two SOAs.
    public var allRecords: [ResourceRecord] {
        var result = [soa]
        for (_, node) in nodes {
            for rrset in node.rrsets where rrset.type != .soa { result += rrset.records }
        }
        return result
    }

    /// How many owner names hold data.
    public var nameCount: Int { nodes.count }

    /// The current serial.
    public var serial: UInt32 {
        if case .soa(let data) = soa.data { return data.serial }
        return 0
    }

    /// A zone's contents being changed: the store edits one per write and
    /// freezes it into the next `ZoneIndex`. Every edit keeps the counts
    /// that make empty non-terminals and wildcard transparency exact, in
    /// time proportional to the depth of the name.
    struct Draft: Sendable {
        let origin: DNSName
        var nodes: TreeDictionary<DNSName, Node> = [:]
        var wildcards: TreeDictionary<DNSName, Node> = [:]
        var delegationCount = 0

        init(origin: DNSName, nodes: TreeDictionary<DNSName, Node> = [:], wildcards: TreeDictionary<DNSName, Node> = [:], delegationCount: Int = 0) {
            self.origin = origin
            self.nodes = nodes
            self.wildcards = wildcards
            self.delegationCount = delegationCount
        }

        /// Makes `records` (no SOA) everything at `name`; none removes its
        /// data. Throws for a CNAME beside other data or a name outside the zone.
        mutating func set(_ name: DNSName, records: [ResourceRecord], challengeOnly: Bool) throws(ZoneStoreError) {
            guard name.isSubdomain(of: origin) else {
                throw ZoneStoreError(.outOfZone, name: name, "\(name) is not inside zone \(origin)")
            }
            let old = nodes[name]
            var new: Node? = nil
            if let rrsets = try Self.rrsets(name, records) {
                new = Node(rrsets: rrsets, isDelegation: name != origin && rrsets.contains { $0.type == .ns },
                           challengeOnly: challengeOnly, children: old?.children ?? 0, solidChildren: old?.solidChildren ?? 0)
            } else if let old, old.children > 0 || name == origin {
                new = Node(rrsets: [], isDelegation: false, challengeOnly: false, children: old.children, solidChildren: old.solidChildren)
            } else if name == origin {
                new = Node(rrsets: [], isDelegation: false, challengeOnly: false)
            }
            write(name, old: old, new: new)
        }

        /// Replaces the node at `name` and carries the change of its
        /// existence and solidity up to its ancestors.
        private mutating func write(_ name: DNSName, old: Node?, new: Node?) {
            nodes[name] = new
            if name.isWildcard, let parent = name.parent {
                wildcards[parent] = (new?.rrsets.isEmpty ?? true) ? nil : new
            }
            delegationCount += (new?.isDelegation == true ? 1 : 0) - (old?.isDelegation == true ? 1 : 0)
            guard name != origin, let parent = name.parent else { return }
            let exists = Int32(new == nil ? 0 : 1) - Int32(old == nil ? 0 : 1)
            let solid = Int32(new?.isSolid == true ? 1 : 0) - Int32(old?.isSolid == true ? 1 : 0)
            guard exists != 0 || solid != 0 else { return }
            let above = nodes[parent]
            var updated = above ?? Node(rrsets: [], isDelegation: false, challengeOnly: false)
            updated.children += exists
            updated.solidChildren += solid
            let keep = !updated.rrsets.isEmpty || updated.children > 0 || parent == origin
            write(parent, old: above, new: keep ? updated : nil)
        }

        /// One name's RRsets, or nil when there are no records. An RRset
        /// holds no duplicate data and takes the first TTL given (RFC 2181 §5).
        /// Linear in the records: a challenge name can hold hundreds of values.
        static func rrsets(_ name: DNSName, _ records: [ResourceRecord]) throws(ZoneStoreError) -> [RRset]? {
            guard let first = records.first else { return nil }
            // Most names hold one record: no grouping to do.
            if records.count == 1 { return [RRset(name: first.name, type: first.type, records: records)] }
            var byType: [RRType: [ResourceRecord]] = [:]
            var seen: Set<RecordData> = []
            seen.reserveCapacity(records.count)
            for record in records where seen.insert(record.data).inserted {
                var adjusted = record
                adjusted.name = first.name
                if let head = byType[record.type]?.first { adjusted.ttl = head.ttl }
                byType[record.type, default: []].append(adjusted)
            }
            if byType[.cname] != nil && byType.count > 1 {
                throw ZoneStoreError(.cnameConflict, name: name, "\(name) has a CNAME and other data")
            }
            return byType.sorted { $0.key.rawValue < $1.key.rawValue }.map { RRset(name: first.name, type: $0.key, records: $0.value) }
        }
    }
}
