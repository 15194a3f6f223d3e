/// The operation a message asks for (RFC 1035 §4.1.1, RFC 1996, RFC 2136).
public struct Opcode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 4-bit opcode value.
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    public static let query = Opcode(rawValue: 0)
    public static let iquery = Opcode(rawValue: 1)
    public static let status = Opcode(rawValue: 2)
    public static let notify = Opcode(rawValue: 4)
    public static let update = Opcode(rawValue: 5)

    public var description: String {
        switch rawValue {
        case 0: "QUERY"
        case 1: "IQUERY"
        case 2: "STATUS"
        case 4: "NOTIFY"
        case 5: "UPDATE"
        default: "OPCODE\(rawValue)"
        }
    }
}

/// A response code, including the EDNS extended range (12 bits, RFC 6891)
/// and the TSIG error values (16 bits, RFC 8945).
public struct ResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = ResponseCode(rawValue: 0)
    public static let formErr = ResponseCode(rawValue: 1)
    public static let servFail = ResponseCode(rawValue: 2)
    public static let nxDomain = ResponseCode(rawValue: 3)
    public static let notImp = ResponseCode(rawValue: 4)
    public static let refused = ResponseCode(rawValue: 5)
    public static let yxDomain = ResponseCode(rawValue: 6)
    public static let yxRRset = ResponseCode(rawValue: 7)
    public static let nxRRset = ResponseCode(rawValue: 8)
    public static let notAuth = ResponseCode(rawValue: 9)
    public static let notZone = ResponseCode(rawValue: 10)
    /// BADVERS (in an OPT) and BADSIG (in a TSIG) share 16.
    public static let badVers = ResponseCode(rawValue: 16)
    public static let badSig = ResponseCode(rawValue: 16)
    public static let badKey = ResponseCode(rawValue: 17)
    public static let badTime = ResponseCode(rawValue: 18)
    public static let badTrunc = ResponseCode(rawValue: 22)
    public static let badCookie = ResponseCode(rawValue: 23)

    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 6: "YXDOMAIN"
        case 7: "YXRRSET"
        case 8: "NXRRSET"
        case 9: "NOTAUTH"
        case 10: "NOTZONE"
        case 16: "BADVERS"
        case 17: "BADKEY"
        case 18: "BADTIME"
        case 22: "BADTRUNC"
        case 23: "BADCOOKIE"
        default: "RCODE\(rawValue)"
        }
    }
}

/// The fixed 12-byte message header without its section counts, which the
/// codec derives from the sections.
public struct DNSHeader: Hashable, Sendable {
    /// The single-bit flags of the header's second and third bytes.
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let response = Flags(rawValue: 0x8000)
        public static let authoritative = Flags(rawValue: 0x0400)
        public static let truncated = Flags(rawValue: 0x0200)
        public static let recursionDesired = Flags(rawValue: 0x0100)
        public static let recursionAvailable = Flags(rawValue: 0x0080)
        /// The reserved Z bit, kept so that a message round-trips unchanged.
        public static let z = Flags(rawValue: 0x0040)
        public static let authenticData = Flags(rawValue: 0x0020)
        public static let checkingDisabled = Flags(rawValue: 0x0010)

        static let mask: UInt16 = 0x87F0
    }

    public var id: UInt16
    public var flags: Flags
    public var opcode: Opcode
    /// The full response code; values above 15 need EDNS to be encoded.
    public var rcode: ResponseCode

    public init(id: UInt16 = 0, flags: Flags = [], opcode: Opcode = .query, rcode: ResponseCode = .noError) {
        self.id = id
        self.flags = flags
        self.opcode = opcode
        self.rcode = rcode
    }

    /// The header's 16-bit flags word: flags, opcode and the low 4 rcode bits.
    var wireFlags: UInt16 {
        flags.rawValue & Flags.mask | UInt16(opcode.rawValue) << 11 | rcode.rawValue & 0x0F
    }

    init(id: UInt16, wireFlags: UInt16) {
        self.id = id
        self.flags = Flags(rawValue: wireFlags & Flags.mask)
        self.opcode = Opcode(rawValue: UInt8((wireFlags >> 11) & 0x0F))
        self.rcode = ResponseCode(rawValue: wireFlags & 0x0F)
    }
}
