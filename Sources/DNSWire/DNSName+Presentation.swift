extension DNSName: CustomStringConvertible, CustomDebugStringConvertible {
    /// Parses presentation form: `www.svc.dev.`, with `\.` and `\DDD` escapes.
    ///
    /// A name without a trailing dot is relative to `origin` when one is given,
    /// and taken as absolute otherwise (acme-dns configuration lines rely on
    /// that). `@` stands for the origin.
    public init(_ text: some StringProtocol, origin: DNSName? = nil) throws(DNSWireError) {
        let bytes = Array(text.utf8)
        if bytes == [UInt8(ascii: "@")] {
            guard let origin else { throw DNSWireError(.badPresentation, at: 0, "@ without an origin") }
            self = origin
            return
        }
        guard !bytes.isEmpty else { throw DNSWireError(.badPresentation, at: 0, "empty name") }
        if bytes == [UInt8(ascii: ".")] {
            self = .root
            return
        }
        var storage: [UInt8] = []
        storage.reserveCapacity(bytes.count + 1)
        var labelStart = 0
        storage.append(0)
        var index = 0
        var absolute = false
        func closeLabel(at position: Int) throws(DNSWireError) {
            let length = storage.count - labelStart - 1
            guard length > 0 else { throw DNSWireError(.badPresentation, at: position, "empty label") }
            guard length <= DNSName.maxLabelLength else {
                throw DNSWireError(.labelTooLong, at: position, "label of \(length) bytes")
            }
            storage[labelStart] = UInt8(length)
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "."):
                try closeLabel(at: index)
                if index == bytes.count - 1 {
                    absolute = true
                } else {
                    labelStart = storage.count
                    storage.append(0)
                }
                index += 1
            case UInt8(ascii: "\\"):
                let (value, consumed) = try Self.unescape(bytes, at: index)
                storage.append(value)
                index += consumed
            default:
                storage.append(byte)
                index += 1
            }
            guard storage.count < DNSName.maxWireLength else {
                throw DNSWireError(.nameTooLong, at: index, "name longer than 255 bytes")
            }
        }
        if !absolute { try closeLabel(at: index) }
        if !absolute, let origin, !origin.isRoot {
            storage.append(contentsOf: origin.storage[origin.start...])
            guard storage.count < DNSName.maxWireLength else {
                throw DNSWireError(.nameTooLong, at: index, "name longer than 255 bytes with the origin")
            }
        }
        self.init(uncheckedStorage: storage)
    }

    /// Decodes `\X` or `\DDD` at `index`; returns the byte and how many input bytes it used.
    static func unescape(_ bytes: [UInt8], at index: Int) throws(DNSWireError) -> (UInt8, Int) {
        guard index + 1 < bytes.count else { throw DNSWireError(.badPresentation, at: index, "dangling backslash") }
        let next = bytes[index + 1]
        guard next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9") else { return (next, 2) }
        guard index + 3 < bytes.count else { throw DNSWireError(.badPresentation, at: index, "\\DDD needs three digits") }
        var value = 0
        for digit in bytes[(index + 1)...(index + 3)] {
            guard digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9") else {
                throw DNSWireError(.badPresentation, at: index, "\\DDD needs three digits")
            }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        guard value <= 255 else { throw DNSWireError(.badPresentation, at: index, "\\\(value) is above 255") }
        return (UInt8(value), 4)
    }

    /// Presentation form with a trailing dot, escaping what a zone file must.
    public var description: String {
        if isRoot { return "." }
        var out: [UInt8] = []
        out.reserveCapacity(wireLength + 1)
        var index = start
        while index < storage.count {
            let length = Int(storage[index])
            for byte in storage[(index + 1)..<(index + 1 + length)] {
                Self.appendEscaped(byte, to: &out, special: Self.nameSpecials)
            }
            out.append(UInt8(ascii: "."))
            index += length + 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var debugDescription: String { "DNSName(\(description))" }

    /// `svc.dev` for `svc.dev.`: how acme-dns and configuration files write names.
    public var presentationWithoutDot: String {
        let text = description
        return text.count > 1 && text.hasSuffix(".") ? String(text.dropLast()) : text
    }

    static let nameSpecials: [UInt8] = Array(".\\\"()@$;".utf8)

    static func appendEscaped(_ byte: UInt8, to out: inout [UInt8], special: [UInt8]) {
        if byte < 0x21 || byte > 0x7E {
            out.append(UInt8(ascii: "\\"))
            out.append(UInt8(ascii: "0") + byte / 100)
            out.append(UInt8(ascii: "0") + (byte / 10) % 10)
            out.append(UInt8(ascii: "0") + byte % 10)
        } else {
            if special.contains(byte) { out.append(UInt8(ascii: "\\")) }
            out.append(byte)
        }
    }
}

extension DNSName: ExpressibleByStringLiteral {
    /// For literals in code and tests only: traps on an invalid literal.
    public init(stringLiteral value: String) {
        do {
            try self.init(value)
        } catch {
            preconditionFailure("invalid DNS name literal \(value): \(error)")
        }
    }
}
