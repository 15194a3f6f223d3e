/// Text strings (RFC 1035 §3.3.14): one or more character-strings of at most
/// 255 bytes each. Strings are bytes; empty strings are allowed.
public struct TXT: Hashable, Sendable {
    /// The character-strings, each at most 255 bytes.
    public private(set) var strings: [[UInt8]]

    /// Builds the record from strings that are each at most 255 bytes.
    public init(strings: [[UInt8]]) throws(DNSWireError) {
        for string in strings where string.count > 255 {
            throw DNSWireError(.badRecordData, "TXT string of \(string.count) bytes; at most 255")
        }
        self.strings = strings
    }

    /// Builds the record from one text value, split into 255-byte chunks the way
    /// long TXT values (DKIM keys, ACME values) are stored.
    public init(text: String) {
        let bytes = Array(text.utf8)
        var strings: [[UInt8]] = []
        var index = 0
        repeat {
            let end = min(index + 255, bytes.count)
            strings.append(Array(bytes[index..<end]))
            index = end
        } while index < bytes.count
        self.strings = strings
    }

    init(unchecked strings: [[UInt8]]) { self.strings = strings }

    /// All strings concatenated, as clients compare ACME challenge values.
    public var joinedText: String { String(decoding: strings.joined(), as: UTF8.self) }
}
