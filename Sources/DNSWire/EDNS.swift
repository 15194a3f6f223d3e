/// EDNS(0) as carried by the OPT pseudo-record (RFC 6891).
///
/// The extended rcode bits are folded into `DNSHeader.rcode` when decoding and
/// split out again when encoding, so callers see one 12-bit rcode.
public struct EDNS: Hashable, Sendable {
    /// Largest UDP payload the sender can receive.
    public var udpPayloadSize: UInt16
    /// EDNS version; only 0 is defined.
    public var version: UInt8
    /// The DO bit (RFC 3225).
    public var dnssecOK: Bool
    /// The remaining 15 reserved flag bits, kept for round trips.
    public var reservedFlags: UInt16
    public var options: [EDNSOption]

    public init(udpPayloadSize: UInt16 = 1232, version: UInt8 = 0, dnssecOK: Bool = false, reservedFlags: UInt16 = 0, options: [EDNSOption] = []) {
        self.udpPayloadSize = udpPayloadSize
        self.version = version
        self.dnssecOK = dnssecOK
        self.reservedFlags = reservedFlags & 0x7FFF
        self.options = options
    }

    /// Bytes the OPT record takes on the wire.
    public var wireLength: Int { 11 + options.reduce(0) { $0 + 4 + $1.data.count } }
}

/// One EDNS option: a code and its bytes (COOKIE is 10, EDE is 15, …).
public struct EDNSOption: Hashable, Sendable {
    public var code: UInt16
    public var data: [UInt8]

    public init(code: UInt16, data: [UInt8]) {
        self.code = code
        self.data = data
    }

    public static let cookie: UInt16 = 10
    public static let extendedError: UInt16 = 15
}
