/// The one error type of DNSWire: what went wrong, and where.
///
/// Decoding never traps on input; every malformed message ends in one of these,
/// with the byte offset at which the problem was found. Servers map the code to
/// an rcode once, at the edge (usually FORMERR).
public struct DNSWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem this is. Compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Backing: UInt8, Hashable, Sendable {
            case truncated, labelTooLong, nameTooLong, badPointer, pointerLoop
            case badLabelType, rdataLengthMismatch, trailingBytes, badRecordData
            case noSpace, misplacedOPT, duplicateOPT, badPresentation, rcodeNeedsEDNS
        }
        let backing: Backing

        /// The input ended before the structure it was reading did.
        public static let truncated = Code(backing: .truncated)
        /// A label is longer than 63 bytes.
        public static let labelTooLong = Code(backing: .labelTooLong)
        /// A name is longer than 255 bytes in wire form.
        public static let nameTooLong = Code(backing: .nameTooLong)
        /// A compression pointer points forward, at itself, or past the message.
        public static let badPointer = Code(backing: .badPointer)
        /// Compression pointers form a loop.
        public static let pointerLoop = Code(backing: .pointerLoop)
        /// A label type other than a normal label or a pointer (0x40, 0x80).
        public static let badLabelType = Code(backing: .badLabelType)
        /// RDATA did not occupy exactly its RDLENGTH.
        public static let rdataLengthMismatch = Code(backing: .rdataLengthMismatch)
        /// Bytes follow the last record the header counts announced.
        public static let trailingBytes = Code(backing: .trailingBytes)
        /// RDATA of a known type is not valid for that type.
        public static let badRecordData = Code(backing: .badRecordData)
        /// The output buffer's size limit was reached.
        public static let noSpace = Code(backing: .noSpace)
        /// An OPT record outside the additional section, or with a non-root owner.
        public static let misplacedOPT = Code(backing: .misplacedOPT)
        /// More than one OPT record (RFC 6891 §6.1.1).
        public static let duplicateOPT = Code(backing: .duplicateOPT)
        /// Presentation (zone-file) text could not be parsed.
        public static let badPresentation = Code(backing: .badPresentation)
        /// An rcode above 15 needs an OPT record to carry its upper bits.
        public static let rcodeNeedsEDNS = Code(backing: .rcodeNeedsEDNS)

        public var description: String {
            switch backing {
            case .truncated: "truncated"
            case .labelTooLong: "labelTooLong"
            case .nameTooLong: "nameTooLong"
            case .badPointer: "badPointer"
            case .pointerLoop: "pointerLoop"
            case .badLabelType: "badLabelType"
            case .rdataLengthMismatch: "rdataLengthMismatch"
            case .trailingBytes: "trailingBytes"
            case .badRecordData: "badRecordData"
            case .noSpace: "noSpace"
            case .misplacedOPT: "misplacedOPT"
            case .duplicateOPT: "duplicateOPT"
            case .badPresentation: "badPresentation"
            case .rcodeNeedsEDNS: "rcodeNeedsEDNS"
            }
        }
    }

    /// What kind of problem this is.
    public var code: Code
    /// Byte offset in the input (wire) or column (presentation) where it was found, if known.
    public var offset: Int?
    /// A short human explanation.
    public var detail: String

    public init(_ code: Code, at offset: Int? = nil, _ detail: String = "") {
        self.code = code
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        var text = "DNSWireError.\(code)"
        if let offset { text += " at offset \(offset)" }
        if !detail.isEmpty { text += ": \(detail)" }
        return text
    }
}
