import DNSWire

extension ZoneSnapshot {
    /// How many CNAMEs one answer follows (the limit; BIND uses 16).
    public static let maxCNAMEChain = 8

    /// Answers one question by RFC 1034 §4.3.2: exact match, zone cuts with
    /// glue, wildcard synthesis from the closest encloser (RFC 4592), CNAME
    /// chains through our own zones, NXDOMAIN and NODATA with the SOA
    /// (RFC 2308), minimal ANY (RFC 8482), REFUSED outside our zones.
    public func lookup(_ name: DNSName, type: RRType) -> Answer {
        var answer = Answer(rcode: .noError, authoritative: true)
        lookup(name, type: type, into: &answer)
        return answer
    }

    /// `lookup(_:type:)` into an `Answer` the caller reuses: its arrays keep
    /// their capacity, so a server answering query after query allocates nothing here.
    public func lookup(_ name: DNSName, type: RRType, into answer: inout Answer) {
        answer.reset()
        guard var zone = zone(containing: name) else {
            answer.refuse()
            return
        }
        var current = name
        var chain = 0
        while true {
            if zone.hasDelegations, let cut = zone.delegation(above: current) {
                // Below a cut we hold only glue; the first name gets a referral,
                // a CNAME target there ends the chain.
                if chain == 0 {
                    answer.authoritative = false
                    answer.authority.append(AnswerRRset(cut))
                    zone.appendAddresses(of: cut, to: &answer.additional)
                }
                return
            }
            var owner: DNSName? = nil
            var node = zone.nodes[current]
            if node == nil || (zone.keepWildcards && current != zone.origin && node?.isTransparent == true) {
                if let source = zone.sourceOfSynthesis(for: current) {
                    node = source
                    owner = current
                } else if node == nil {
                    answer.rcode = .nxDomain
                    answer.authority.append(AnswerRRset(zone.negativeSOA(for: name)))
                    return
                }
            }
            guard let node else { return }

            if type != .cname, let cname = node.rrset(.cname) {
                answer.answer.append(AnswerRRset(cname, owner: owner))
                guard case .cname(let target)? = cname.records.first?.data, chain < Self.maxCNAMEChain - 1,
                      !answer.answer.contains(where: { ($0.owner ?? $0.rrset.name) == target }),
                      let next = self.zone(containing: target) else { return }
                if type == .any { return }
                zone = next
                current = target
                chain += 1
                continue
            }
            let found: RRset? = type == .any ? node.rrsets.first : node.rrset(type)
            guard let found else {
                answer.authority.append(AnswerRRset(zone.negativeSOA(for: name)))
                return
            }
            answer.answer.append(AnswerRRset(found, owner: owner))
            zone.appendAddresses(of: found, to: &answer.additional)
            return
        }
    }
}

extension ZoneIndex {
    /// The highest zone cut between the apex (exclusive) and `name` (inclusive).
    func delegation(above name: DNSName) -> RRset? {
        var found: RRset? = nil
        var candidate = name
        while candidate != origin {
            if let node = nodes[candidate], node.isDelegation { found = node.rrset(.ns) }
            guard let parent = candidate.parent else { break }
            candidate = parent
        }
        return found
    }

    /// The wildcard that answers for a missing `name`: `*.` under its closest
    /// encloser, if that exists. An empty non-terminal is an encloser and so
    /// blocks wildcards above it (RFC 4592 §2.2.2).
    /// With `keepWildcards`, an empty non-terminal that exists only because
    /// of challenge names below it is no encloser.
    func sourceOfSynthesis(for name: DNSName) -> Node? {
        var encloser = name.parent
        while let candidate = encloser {
            if candidate == origin { return wildcards[candidate] }
            if let node = nodes[candidate], !(keepWildcards && node.isTransparent) { return wildcards[candidate] }
            encloser = candidate.parent
        }
        return nil
    }

    /// The SOA a negative answer to `name` carries: the short challenge
    /// one at and below `_acme-challenge` names.
    func negativeSOA(for name: DNSName) -> RRset {
        name.containsChallengeLabel ? challengeNegativeSOA : negativeSOA
    }

    /// A and AAAA of the in-zone names an NS, MX or SRV RRset points at, as
    /// additional data (RFC 1034 §4.3.2 step 6).
    func appendAddresses(of rrset: RRset, to result: inout [AnswerRRset]) {
        guard rrset.type == .ns || rrset.type == .mx || rrset.type == .srv else { return }
        for record in rrset.records {
            let target: DNSName
            switch record.data {
            case .ns(let name): target = name
            case .mx(let mx): target = mx.exchange
            case .srv(let srv): target = srv.target
            default: continue
            }
            guard target.isSubdomain(of: origin), let node = nodes[target] else { continue }
            for type in [RRType.a, .aaaa] {
                if let addresses = node.rrset(type), !result.contains(where: { $0.rrset == addresses }) {
                    result.append(AnswerRRset(addresses))
                }
            }
        }
    }
}
