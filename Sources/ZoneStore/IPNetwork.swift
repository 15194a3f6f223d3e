import DNSWire

/// An IPv4 or IPv6 address as one 128-bit number, for prefix matching.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let isIPv6: Bool
    /// Host order; IPv4 in the low 32 bits.
    let value: UInt128

    /// Parses `10.1.2.3` or `2001:db8::1`. IPv4-mapped IPv6 (`::ffff:10.1.2.3`)
    /// becomes IPv4, as a dual-stack socket reports IPv4 peers that way.
    public init?(_ text: some StringProtocol) {
        if let v4 = IPv4Address(text) {
            self.init(v4: v4.rawValue)
        } else if let v6 = IPv6Address(text) {
            self.init(v6: UInt128(v6.high) << 64 | UInt128(v6.low))
        } else {
            return nil
        }
    }

    init(v4: UInt32) {
        isIPv6 = false
        value = UInt128(v4)
    }

    init(v6: UInt128) {
        let mapped = v6 >> 32 == 0xFFFF
        isIPv6 = !mapped
        value = mapped ? v6 & 0xFFFF_FFFF : v6
    }

    /// The address with every bit below the first `prefixLength` cleared:
    /// the key of its /64 (or any other prefix).
    public func masked(to prefixLength: Int) -> IPAddress {
        let width = isIPv6 ? 128 : 32
        let shift = width - min(max(prefixLength, 0), width)
        let kept = shift >= 128 ? 0 : (value >> shift) << shift
        return isIPv6 ? IPAddress(v6: kept) : IPAddress(v4: UInt32(truncatingIfNeeded: kept))
    }

    public var description: String {
        if isIPv6 {
            return IPv6Address(high: UInt64(truncatingIfNeeded: value >> 64), low: UInt64(truncatingIfNeeded: value)).description
        }
        return IPv4Address(rawValue: UInt32(truncatingIfNeeded: value)).description
    }
}

/// A CIDR block such as `10.0.0.0/8` or `fd00::/8`; a bare address is a
/// block of one. Used for acme-dns `allowfrom`, credential sources and
/// trusted proxies.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `ADDRESS/PREFIX` or `ADDRESS`; nil when either part is invalid.
    /// Host bits set below the prefix are allowed and ignored, as Go's
    /// `net.ParseCIDR` (and so acme-dns) accepts `192.168.1.5/24`.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let width = address.isIPv6 ? 128 : 32
        var prefix = width
        if parts.count == 2 {
            guard parts[1].allSatisfy(\.isASCII), let value = Int(parts[1]), (0...width).contains(value), !parts[1].hasPrefix("+") else { return nil }
            prefix = value
        }
        self.address = address
        self.prefixLength = prefix
    }

    /// Whether `candidate` lies in this block (never across address families).
    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.isIPv6 == address.isIPv6 else { return false }
        let width = address.isIPv6 ? 128 : 32
        let shift = width - prefixLength
        if shift >= 128 { return true }
        return candidate.value >> shift == address.value >> shift
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

extension Array where Element == IPNetwork {
    /// Whether any block contains `address`.
    public func contains(_ address: IPAddress) -> Bool {
        contains { $0.contains(address) }
    }
}
