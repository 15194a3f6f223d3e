/// An IPv6 address, the RDATA of an AAAA record.
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    /// The upper and lower 64 bits, host order.
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Builds the address from 16 bytes in network order.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var words: [UInt64] = [0, 0]
        for (index, byte) in bytes.enumerated() { words[index / 8] = words[index / 8] << 8 | UInt64(byte) }
        high = words[0]
        low = words[1]
    }

    /// Parses RFC 4291 text form, with `::` and an optional dotted IPv4 tail.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, utf8.count <= 45 else { return nil }
        if utf8 == Array("::".utf8) {
            high = 0
            low = 0
            return
        }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        var groups = utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false).map { Array($0) }
        // "::" appears as an empty group; leading/trailing "::" as two.
        if groups.first?.isEmpty == true {
            guard groups.count > 2, groups[1].isEmpty else { return nil }
            groups.removeFirst()
        }
        if groups.last?.isEmpty == true {
            guard groups.count > 2, groups[groups.count - 2].isEmpty else { return nil }
            groups.removeLast()
        }
        for (index, group) in groups.enumerated() {
            if group.isEmpty {
                guard !sawGap else { return nil }
                sawGap = true
                continue
            }
            if index == groups.count - 1, group.contains(UInt8(ascii: ".")) {
                guard let v4 = IPv4Address(String(decoding: group, as: UTF8.self)) else { return nil }
                let words = [UInt16(v4.rawValue >> 16), UInt16(truncatingIfNeeded: v4.rawValue)]
                if sawGap { tail += words } else { head += words }
                continue
            }
            guard group.count <= 4, let word = UInt16(String(decoding: group, as: UTF8.self), radix: 16) else { return nil }
            if sawGap { tail.append(word) } else { head.append(word) }
        }
        let total = head.count + tail.count
        guard sawGap ? total < 8 : total == 8 else { return nil }
        let words = head + Array(repeating: 0, count: 8 - total) + tail
        high = words[0..<4].reduce(0) { $0 << 16 | UInt64($1) }
        low = words[4..<8].reduce(0) { $0 << 16 | UInt64($1) }
    }

    /// The sixteen bytes in network order.
    public var bytes: [UInt8] {
        (0..<16).map { index in
            let word = index < 8 ? high : low
            return UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(index % 8)))
        }
    }

    /// RFC 5952 canonical text: lowercase, no leading zeros, longest zero run as `::`.
    public var description: String {
        let words: [UInt16] = (0..<8).map { index in
            let word = index < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> (48 - 16 * UInt64(index % 4)))
        }
        var bestStart = -1
        var bestLength = 1
        var index = 0
        while index < 8 {
            guard words[index] == 0 else { index += 1; continue }
            var end = index
            while end < 8 && words[end] == 0 { end += 1 }
            if end - index > bestLength {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        func hex(_ range: Range<Int>) -> String {
            words[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestStart >= 0 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
