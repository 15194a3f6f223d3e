/// A resource record type (RFC 1035 §3.2.2 and the IANA registry).
///
/// Any 16-bit value is valid; types without a mnemonic print as `TYPE123`
/// (RFC 3597).
public struct RRType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = RRType(1)
    public static let ns = RRType(2)
    public static let cname = RRType(5)
    public static let soa = RRType(6)
    public static let ptr = RRType(12)
    public static let hinfo = RRType(13)
    public static let mx = RRType(15)
    public static let txt = RRType(16)
    public static let aaaa = RRType(28)
    public static let srv = RRType(33)
    public static let naptr = RRType(35)
    public static let dname = RRType(39)
    public static let opt = RRType(41)
    public static let ds = RRType(43)
    public static let sshfp = RRType(44)
    public static let rrsig = RRType(46)
    public static let nsec = RRType(47)
    public static let dnskey = RRType(48)
    public static let nsec3 = RRType(50)
    public static let tlsa = RRType(52)
    public static let svcb = RRType(64)
    public static let https = RRType(65)
    public static let spf = RRType(99)
    public static let tkey = RRType(249)
    public static let tsig = RRType(250)
    public static let ixfr = RRType(251)
    public static let axfr = RRType(252)
    public static let any = RRType(255)
    public static let caa = RRType(257)

    static let mnemonics: [(RRType, String)] = [
        (.a, "A"), (.ns, "NS"), (.cname, "CNAME"), (.soa, "SOA"), (.ptr, "PTR"), (.hinfo, "HINFO"),
        (.mx, "MX"), (.txt, "TXT"), (.aaaa, "AAAA"), (.srv, "SRV"), (.naptr, "NAPTR"), (.dname, "DNAME"),
        (.opt, "OPT"), (.ds, "DS"), (.sshfp, "SSHFP"), (.rrsig, "RRSIG"), (.nsec, "NSEC"),
        (.dnskey, "DNSKEY"), (.nsec3, "NSEC3"), (.tlsa, "TLSA"), (.svcb, "SVCB"), (.https, "HTTPS"),
        (.spf, "SPF"), (.tkey, "TKEY"), (.tsig, "TSIG"), (.ixfr, "IXFR"), (.axfr, "AXFR"),
        (.any, "ANY"), (.caa, "CAA"),
    ]

    /// Parses a mnemonic (`A`, `txt`) or the generic `TYPE123` form.
    public init?(mnemonic: some StringProtocol) {
        let upper = mnemonic.uppercased()
        if let match = Self.mnemonics.first(where: { $0.1 == upper }) {
            self = match.0
        } else if upper.hasPrefix("TYPE"), let value = UInt16(upper.dropFirst(4)) {
            self.init(value)
        } else {
            return nil
        }
    }

    public var description: String {
        Self.mnemonics.first(where: { $0.0 == self })?.1 ?? "TYPE\(rawValue)"
    }

    /// Types that only appear in questions or as pseudo-records, never in a zone.
    public var isMetaType: Bool {
        self == .opt || self == .tsig || self == .tkey || self == .ixfr || self == .axfr || self == .any
    }
}

/// A resource record class. Almost always `IN`; `NONE` and `ANY` carry meaning in UPDATE.
public struct RRClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let `in` = RRClass(1)
    public static let chaos = RRClass(3)
    public static let hesiod = RRClass(4)
    public static let none = RRClass(254)
    public static let any = RRClass(255)

    static let mnemonics: [(RRClass, String)] = [
        (.in, "IN"), (.chaos, "CH"), (.hesiod, "HS"), (.none, "NONE"), (.any, "ANY"),
    ]

    /// Parses `IN`, `CH`, `HS`, `NONE`, `ANY` or the generic `CLASS123`.
    public init?(mnemonic: some StringProtocol) {
        let upper = mnemonic.uppercased()
        if let match = Self.mnemonics.first(where: { $0.1 == upper }) {
            self = match.0
        } else if upper.hasPrefix("CLASS"), let value = UInt16(upper.dropFirst(5)) {
            self.init(value)
        } else {
            return nil
        }
    }

    public var description: String {
        Self.mnemonics.first(where: { $0.0 == self })?.1 ?? "CLASS\(rawValue)"
    }
}
