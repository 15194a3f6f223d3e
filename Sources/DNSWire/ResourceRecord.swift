/// One resource record: owner, class, TTL and typed data.
public struct ResourceRecord: Hashable, Sendable {
    public var name: DNSName
    public var rrClass: RRClass
    public var ttl: UInt32
    public var data: RecordData

    /// The record's type, which its data determines.
    public var type: RRType { data.type }

    public init(name: DNSName, class rrClass: RRClass = .in, ttl: UInt32, data: RecordData) {
        self.name = name
        self.rrClass = rrClass
        self.ttl = ttl
        self.data = data
    }
}

/// One question: the name, type and class asked for.
public struct Question: Hashable, Sendable {
    public var name: DNSName
    public var type: RRType
    public var qClass: RRClass

    public init(name: DNSName, type: RRType, class qClass: RRClass = .in) {
        self.name = name
        self.type = type
        self.qClass = qClass
    }
}

/// The four sections of a message (in UPDATE: zone, prerequisite, update, additional).
public enum MessageSection: Int, Hashable, Sendable, Comparable {
    case question = 0, answer, authority, additional

    public static func < (lhs: MessageSection, rhs: MessageSection) -> Bool { lhs.rawValue < rhs.rawValue }
}
