import DNSWire

/// The records of one name and type, as one unit of answering and truncation.
public struct RRset: Sendable, Hashable {
    public let name: DNSName
    public let type: RRType
    public let records: [ResourceRecord]

    public init(name: DNSName, type: RRType, records: [ResourceRecord]) {
        self.name = name
        self.type = type
        self.records = records
    }
}

/// An RRset placed in a response, with the owner to write when it was
/// synthesised from a wildcard (RFC 4592 §3.3.1).
public struct AnswerRRset: Sendable, Hashable {
    public let rrset: RRset
    /// The owner to write instead of the RRset's own (`*.svc.dev`), if any.
    public let owner: DNSName?

    public init(_ rrset: RRset, owner: DNSName? = nil) {
        self.rrset = rrset
        self.owner = owner
    }

    /// The records as they appear on the wire.
    public var records: [ResourceRecord] {
        guard let owner else { return rrset.records }
        return rrset.records.map { ResourceRecord(name: owner, class: $0.rrClass, ttl: $0.ttl, data: $0.data) }
    }
}

/// What the authoritative lookup decided for one question.
public struct Answer: Sendable, Hashable {
    public var rcode: ResponseCode
    /// AA: false for referrals and refusals.
    public var authoritative: Bool
    public var answer: [AnswerRRset]
    public var authority: [AnswerRRset]
    public var additional: [AnswerRRset]
    /// An Extended DNS Error INFO-CODE (RFC 8914) to attach when the client speaks EDNS.
    public var extendedError: UInt16?

    public init(rcode: ResponseCode, authoritative: Bool, answer: [AnswerRRset] = [], authority: [AnswerRRset] = [], additional: [AnswerRRset] = [], extendedError: UInt16? = nil) {
        self.rcode = rcode
        self.authoritative = authoritative
        self.answer = answer
        self.authority = authority
        self.additional = additional
        self.extendedError = extendedError
    }

    /// For names in none of our zones: never an open resolver. Carries EDE 20
    /// "Not Authoritative", as Knot does.
    public static let refused = Answer(rcode: .refused, authoritative: false, extendedError: 20)

    /// Back to an empty authoritative NOERROR, keeping the arrays' capacity.
    public mutating func reset() {
        rcode = .noError
        authoritative = true
        answer.removeAll(keepingCapacity: true)
        authority.removeAll(keepingCapacity: true)
        additional.removeAll(keepingCapacity: true)
        extendedError = nil
    }

    /// An empty non-authoritative answer with `rcode` (errors), keeping the arrays' capacity.
    public mutating func reset(rcode: ResponseCode) {
        reset()
        self.rcode = rcode
        authoritative = false
    }

    /// Turns this into `refused`, keeping the arrays' capacity.
    public mutating func refuse() {
        reset()
        rcode = .refused
        authoritative = false
        extendedError = Answer.refused.extendedError
    }
}
