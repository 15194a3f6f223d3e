/// A domain name as DNS carries it: a sequence of byte labels.
///
/// Labels are bytes, not text, so any name that arrives on the wire survives a
/// round trip. Case is preserved as given, while `==`, hashing and
/// `isSubdomain(of:)` ignore ASCII case (RFC 4343). All names are absolute.
///
/// Storage is the uncompressed wire form without the final root byte, and a
/// start offset, so taking a parent name shares storage instead of copying.
public struct DNSName: Sendable {
    /// Wire-form maximum, root byte included (RFC 1035 §2.3.4).
    public static let maxWireLength = 255
    /// Maximum length of one label.
    public static let maxLabelLength = 63

    @usableFromInline let storage: [UInt8]
    @usableFromInline let start: Int

    /// The root name, `.`.
    public static let root = DNSName(uncheckedStorage: [])

    init(uncheckedStorage: [UInt8], start: Int = 0) {
        self.storage = uncheckedStorage
        self.start = start
    }

    /// Builds a name from its labels, first label first (`["www", "svc", "dev"]`).
    public init<Labels: Sequence>(labels: Labels) throws(DNSWireError) where Labels.Element: Collection<UInt8> {
        var storage: [UInt8] = []
        for label in labels {
            guard !label.isEmpty else { throw DNSWireError(.badPresentation, "empty label") }
            guard label.count <= Self.maxLabelLength else {
                throw DNSWireError(.labelTooLong, "label of \(label.count) bytes")
            }
            storage.append(UInt8(label.count))
            storage.append(contentsOf: label)
            guard storage.count < Self.maxWireLength else {
                throw DNSWireError(.nameTooLong, "name longer than 255 bytes")
            }
        }
        self.init(uncheckedStorage: storage)
    }

    /// Length in uncompressed wire form, including the root byte.
    public var wireLength: Int { storage.count - start + 1 }

    /// True for the root name.
    public var isRoot: Bool { start == storage.count }

    /// Number of labels, not counting the root.
    public var labelCount: Int {
        var count = 0
        var index = start
        while index < storage.count {
            count += 1
            index += Int(storage[index]) + 1
        }
        return count
    }

    /// The labels, first label first.
    public var labels: [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var index = start
        while index < storage.count {
            let length = Int(storage[index])
            result.append(storage[(index + 1)..<(index + 1 + length)])
            index += length + 1
        }
        return result
    }

    /// True when the first label is `*` (RFC 4592).
    public var isWildcard: Bool {
        start + 1 < storage.count && storage[start] == 1 && storage[start + 1] == UInt8(ascii: "*")
    }

    /// The name without its first label; the root's parent is nil. Shares storage.
    public var parent: DNSName? {
        guard start < storage.count else { return nil }
        return DNSName(uncheckedStorage: storage, start: start + Int(storage[start]) + 1)
    }

    /// The name with its first `count` labels removed (count ≤ labelCount). Shares storage.
    public func droppingFirstLabels(_ count: Int) -> DNSName {
        var index = start
        for _ in 0..<count where index < storage.count { index += Int(storage[index]) + 1 }
        return DNSName(uncheckedStorage: storage, start: index)
    }

    /// This name with `label` in front (`prepending("*")` makes the wildcard of a name).
    public func prepending<Label: Collection<UInt8>>(label: Label) throws(DNSWireError) -> DNSName {
        guard !label.isEmpty else { throw DNSWireError(.badPresentation, "empty label") }
        guard label.count <= Self.maxLabelLength else { throw DNSWireError(.labelTooLong, "label of \(label.count) bytes") }
        guard wireLength + label.count + 1 <= Self.maxWireLength else { throw DNSWireError(.nameTooLong, "name longer than 255 bytes") }
        var storage: [UInt8] = []
        storage.reserveCapacity(wireLength + label.count)
        storage.append(UInt8(label.count))
        storage.append(contentsOf: label)
        storage.append(contentsOf: self.storage[start...])
        return DNSName(uncheckedStorage: storage)
    }

    /// True when this name equals `other` or lies below it, ignoring case.
    public func isSubdomain(of other: DNSName) -> Bool {
        let mine = storage.count - start
        let theirs = other.storage.count - other.start
        guard theirs <= mine else { return false }
        // Walk our labels until the remaining length equals theirs, then compare.
        var index = start
        while storage.count - index > theirs { index += Int(storage[index]) + 1 }
        guard storage.count - index == theirs else { return false }
        return DNSName(uncheckedStorage: storage, start: index) == other
    }

    /// Whether any label equals `label`, ignoring ASCII case. Allocates nothing.
    public func containsLabel(_ label: [UInt8]) -> Bool {
        var index = start
        while index < storage.count {
            if labelEquals(at: index, label) { return true }
            index += Int(storage[index]) + 1
        }
        return false
    }

    /// Whether the first label equals `label`, ignoring ASCII case.
    public func hasFirstLabel(_ label: [UInt8]) -> Bool {
        start < storage.count && labelEquals(at: start, label)
    }

    private func labelEquals(at index: Int, _ label: [UInt8]) -> Bool {
        guard Int(storage[index]) == label.count else { return false }
        for offset in 0..<label.count where DNSName.lower(storage[index + 1 + offset]) != DNSName.lower(label[offset]) {
            return false
        }
        return true
    }

    /// A copy with ASCII letters lowered; other bytes unchanged.
    public func lowercased() -> DNSName {
        DNSName(uncheckedStorage: storage[start...].map(DNSName.lower))
    }

    @inline(__always) @usableFromInline
    static func lower(_ byte: UInt8) -> UInt8 {
        byte &- 65 < 26 ? byte | 0x20 : byte
    }
}

extension DNSName: Hashable {
    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        let count = lhs.storage.count - lhs.start
        guard count == rhs.storage.count - rhs.start else { return false }
        return lhs.storage.withUnsafeBufferPointer { left in
            rhs.storage.withUnsafeBufferPointer { right in
                var l = lhs.start
                var r = rhs.start
                for _ in 0..<count {
                    if left[l] != right[r] && lower(left[l]) != lower(right[r]) { return false }
                    l &+= 1
                    r &+= 1
                }
                return true
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        // FNV-1a over the lowered bytes, fed to Hasher once: one combine per name.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        storage.withUnsafeBufferPointer { bytes in
            for index in start..<bytes.count {
                hash = (hash ^ UInt64(DNSName.lower(bytes[index]))) &* 0x100_0000_01b3
            }
        }
        hasher.combine(hash)
    }
}

extension DNSName: Comparable {
    /// Canonical DNS name order (RFC 4034 §6.1): by labels from the right, each
    /// compared as lowercased bytes.
    public static func < (lhs: DNSName, rhs: DNSName) -> Bool {
        let left = lhs.labels
        let right = rhs.labels
        var li = left.count - 1
        var ri = right.count - 1
        while li >= 0 && ri >= 0 {
            let a = left[li].lazy.map(DNSName.lower)
            let b = right[ri].lazy.map(DNSName.lower)
            if !a.elementsEqual(b) { return a.lexicographicallyPrecedes(b) }
            li -= 1
            ri -= 1
        }
        return li < ri
    }
}
