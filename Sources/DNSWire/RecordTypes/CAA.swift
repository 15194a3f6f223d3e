/// Certification authority authorization (RFC 8659).
public struct CAA: Hashable, Sendable {
    /// Bit 128 is "issuer critical".
    public var flags: UInt8
    /// `issue`, `issuewild`, `iodef`…: 1–15 ASCII letters and digits.
    public private(set) var tag: String
    /// The property value, bytes as sent.
    public var value: [UInt8]

    public init(flags: UInt8, tag: String, value: [UInt8]) throws(DNSWireError) {
        guard CAA.isValidTag(Array(tag.utf8)) else {
            throw DNSWireError(.badRecordData, "CAA tag \"\(tag)\" is not 1–15 letters and digits")
        }
        self.flags = flags
        self.tag = tag
        self.value = value
    }

    static func isValidTag(_ bytes: [UInt8]) -> Bool {
        (1...15).contains(bytes.count) && bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
        }
    }
}
