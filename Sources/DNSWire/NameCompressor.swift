/// Remembers where names were written in the outgoing message so later names
/// can point at them (RFC 1035 §4.1.4).
///
/// A fixed table of label offsets, held inline: compressing a response
/// allocates nothing. Once the table is full, later names are still written,
/// only less compactly. Matches compare against the bytes already in the
/// buffer, ignoring case, as every authoritative server does.
struct NameCompressor {
    static let capacity = 96
    var offsets: InlineArray<96, UInt16> = .init(repeating: 0)
    var count = 0

    @inline(__always)
    mutating func remember(_ offset: Int) {
        guard count < Self.capacity, offset < 0x4000 else { return }
        offsets[count] = UInt16(offset)
        count &+= 1
    }

    /// The offset of an earlier name equal to the name suffix that starts at
    /// `index` of `labels` (wire labels without the root byte), if any.
    func find(_ labels: UnsafeBufferPointer<UInt8>, from index: Int, in buffer: UnsafeMutableRawBufferPointer) -> Int? {
        for slot in 0..<count {
            let candidate = Int(offsets[slot])
            if Self.matches(labels, from: index, at: candidate, in: buffer) { return candidate }
        }
        return nil
    }

    /// Compares a name written earlier (and so well formed, with backward
    /// pointers only) against the suffix of `labels` starting at `index`.
    @inline(__always)
    static func matches(_ labels: UnsafeBufferPointer<UInt8>, from index: Int, at offset: Int, in buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var position = offset
        var cursor = index
        while true {
            var length = buffer[position]
            while length & 0xC0 == 0xC0 {
                position = Int(length & 0x3F) << 8 | Int(buffer[position &+ 1])
                length = buffer[position]
            }
            if cursor == labels.count { return length == 0 }
            guard length == labels[cursor] else { return false }
            let count = Int(length)
            for step in 1...count {
                let a = buffer[position &+ step]
                let b = labels[cursor &+ step]
                if a != b && DNSName.lower(a) != DNSName.lower(b) { return false }
            }
            position &+= count &+ 1
            cursor &+= count &+ 1
        }
    }
}
