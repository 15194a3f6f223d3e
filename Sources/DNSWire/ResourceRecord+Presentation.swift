extension ResourceRecord: CustomStringConvertible {
    /// Parses one record in zone-file form, e.g. `*.svc.dev. 300 IN A 10.8.10.252`.
    ///
    /// TTL and class are optional and may come in either order, as in zone
    /// files and acme-dns configuration lines (`dns.svc.dev. A 10.8.10.253`).
    /// Names without a trailing dot are relative to `origin` when given.
    /// Any type accepts the RFC 3597 form `\# 4 0a000001`.
    public init(presentation line: some StringProtocol, origin: DNSName? = nil, defaultTTL: UInt32 = 3600) throws(DNSWireError) {
        var tokens = try PresentationLexer.tokens(line)[...]
        guard let ownerToken = tokens.popFirst() else { throw DNSWireError(.badPresentation, at: 0, "empty line") }
        let owner = try DNSName(ownerToken.string, origin: origin)
        var ttl: UInt32? = nil
        var rrClass: RRClass? = nil
        var type: RRType? = nil
        while type == nil, let token = tokens.popFirst() {
            if ttl == nil, !token.quoted, let value = Self.parseTTL(token.string) {
                ttl = value
            } else if rrClass == nil, !token.quoted, let value = RRClass(mnemonic: token.string),
                      let next = tokens.first, RRType(mnemonic: next.string) != nil || Self.parseTTL(next.string) != nil {
                rrClass = value
            } else if let value = RRType(mnemonic: token.string), !token.quoted {
                type = value
            } else {
                throw DNSWireError(.badPresentation, at: token.column, "expected a TTL, class or type, found \"\(token.string)\"")
            }
        }
        guard let type else { throw DNSWireError(.badPresentation, at: line.count, "no record type") }
        guard type != .opt else { throw DNSWireError(.badPresentation, at: 0, "OPT is not a zone record") }
        let data = try RecordData(presentation: Array(tokens), type: type, origin: origin)
        self.init(name: owner, class: rrClass ?? .in, ttl: ttl ?? defaultTTL, data: data)
    }

    /// Parses a TTL as zone files write it: seconds, or BIND-style units
    /// (`1h30m`, `2d`, `1w`). Nil when it is not one or exceeds 32 bits.
    public static func parseTTL(_ text: String) -> UInt32? {
        if let plain = UInt32(text) { return plain }
        var total: UInt64 = 0
        var current: UInt64? = nil
        for char in text.lowercased() {
            if let digit = char.wholeNumberValue, char.isASCII {
                let next = (current ?? 0) * 10 + UInt64(digit)
                guard next <= UInt64(UInt32.max) else { return nil }
                current = next
                continue
            }
            let unit: UInt64
            switch char {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            case "w": unit = 604800
            default: return nil
            }
            guard let value = current else { return nil }
            total += value * unit
            current = nil
        }
        guard current == nil, total <= UInt64(UInt32.max), !text.isEmpty else { return nil }
        return UInt32(total)
    }

    /// The record as one zone-file line: `owner TTL CLASS TYPE RDATA`.
    public var description: String {
        "\(name) \(ttl) \(rrClass) \(type) \(data)"
    }
}

extension Question: CustomStringConvertible {
    public var description: String { "\(name) \(qClass) \(type)" }
}

extension RecordData: CustomStringConvertible {
    /// Parses RDATA tokens of `type`.
    init(presentation tokens: [PresentationToken], type: RRType, origin: DNSName?) throws(DNSWireError) {
        var fields = RDataFields(tokens: tokens[...], origin: origin)
        if let first = tokens.first, !first.quoted, first.text == Array("\\#".utf8) {
            _ = fields.next()
            let length = try fields.number(UInt16.self, "RDATA length")
            let hex = fields.rest().map(\.string).joined()
            guard let bytes = Self.hexBytes(hex), bytes.count == Int(length) else {
                throw DNSWireError(.badPresentation, at: first.column, "\\# \(length) needs exactly \(length) bytes of hex")
            }
            self = try Self.fromOpaque(type: type, bytes: bytes, column: first.column)
            return
        }
        switch type {
        case .a:
            let token = try fields.required("IPv4 address")
            guard let address = IPv4Address(token.string) else { throw DNSWireError(.badPresentation, at: token.column, "bad IPv4 address \"\(token.string)\"") }
            self = .a(address)
        case .aaaa:
            let token = try fields.required("IPv6 address")
            guard let address = IPv6Address(token.string) else { throw DNSWireError(.badPresentation, at: token.column, "bad IPv6 address \"\(token.string)\"") }
            self = .aaaa(address)
        case .ns: self = .ns(try fields.name())
        case .cname: self = .cname(try fields.name())
        case .ptr: self = .ptr(try fields.name())
        case .soa:
            self = .soa(SOA(
                mname: try fields.name(), rname: try fields.name(), serial: try fields.number(UInt32.self, "serial"),
                refresh: try fields.ttl("refresh"), retry: try fields.ttl("retry"), expire: try fields.ttl("expire"),
                minimum: try fields.ttl("minimum")))
        case .mx:
            self = .mx(MX(preference: try fields.number(UInt16.self, "preference"), exchange: try fields.name()))
        case .srv:
            self = .srv(SRV(
                priority: try fields.number(UInt16.self, "priority"), weight: try fields.number(UInt16.self, "weight"),
                port: try fields.number(UInt16.self, "port"), target: try fields.name()))
        case .txt:
            var strings: [[UInt8]] = []
            for token in fields.rest() { strings.append(try token.characterString()) }
            guard !strings.isEmpty else { throw DNSWireError(.badPresentation, at: 0, "TXT needs at least one string") }
            self = .txt(TXT(unchecked: strings))
        case .caa:
            let flags = try fields.number(UInt8.self, "flags")
            let tagToken = try fields.required("tag")
            let valueToken = try fields.required("value")
            do {
                self = .caa(try CAA(flags: flags, tag: tagToken.string, value: try valueToken.characterString()))
            } catch {
                throw DNSWireError(.badPresentation, at: tagToken.column, error.detail)
            }
        case .tsig:
            let algorithm = try fields.name()
            let time = try fields.number(UInt64.self, "time signed")
            guard time <= 0xFFFF_FFFF_FFFF else { throw DNSWireError(.badPresentation, at: 0, "time signed exceeds 48 bits") }
            let fudge = try fields.number(UInt16.self, "fudge")
            let mac = try fields.base64(count: try fields.number(UInt16.self, "MAC size"))
            let originalID = try fields.number(UInt16.self, "original ID")
            let errorToken = try fields.required("error")
            guard let error = Self.parseRcode(errorToken.string) else {
                throw DNSWireError(.badPresentation, at: errorToken.column, "bad TSIG error \"\(errorToken.string)\"")
            }
            let other = try fields.base64(count: try fields.number(UInt16.self, "other length"))
            self = .tsig(TSIG(algorithm: algorithm, timeSigned: time, fudge: fudge, mac: mac, originalID: originalID, error: error, otherData: other))
        default:
            throw DNSWireError(.badPresentation, at: tokens.first?.column ?? 0, "\(type) needs the \\# form")
        }
        if let extra = fields.next() {
            throw DNSWireError(.badPresentation, at: extra.column, "unexpected \"\(extra.string)\" after \(type) data")
        }
    }

    /// Turns RFC 3597 bytes into typed data by decoding them as wire RDATA.
    static func fromOpaque(type: RRType, bytes: [UInt8], column: Int) throws(DNSWireError) -> RecordData {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(DNSWireError) -> RecordData in
                var reader = WireReader(raw)
                return try RecordData.decode(type: type, length: raw.count, from: &reader)
            }
        }
        do {
            return try result.get()
        } catch {
            throw DNSWireError(.badPresentation, at: column, "\\# data is not valid \(type): \(error.detail)")
        }
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x41...0x46: digit - 0x41 + 10
        case 0x61...0x66: digit - 0x61 + 10
        default: nil
        }
    }

    static func parseRcode(_ text: String) -> ResponseCode? {
        if let value = UInt16(text) { return ResponseCode(rawValue: value) }
        if text.uppercased().hasPrefix("RCODE"), let value = UInt16(text.dropFirst(5)) { return ResponseCode(rawValue: value) }
        return (0...23).map { ResponseCode(rawValue: $0) }.first { $0.description == text.uppercased() }
    }

    /// The RDATA in zone-file form.
    public var description: String {
        switch self {
        case .a(let address): return address.description
        case .aaaa(let address): return address.description
        case .ns(let name), .cname(let name), .ptr(let name): return name.description
        case .soa(let soa):
            return "\(soa.mname) \(soa.rname) \(soa.serial) \(soa.refresh) \(soa.retry) \(soa.expire) \(soa.minimum)"
        case .mx(let mx): return "\(mx.preference) \(mx.exchange)"
        case .srv(let srv): return "\(srv.priority) \(srv.weight) \(srv.port) \(srv.target)"
        case .txt(let txt): return txt.strings.map(Self.quoted).joined(separator: " ")
        case .caa(let caa): return "\(caa.flags) \(caa.tag) \(Self.quoted(caa.value))"
        case .tsig(let tsig):
            var parts = ["\(tsig.algorithm)", "\(tsig.timeSigned)", "\(tsig.fudge)", "\(tsig.mac.count)"]
            if !tsig.mac.isEmpty { parts.append(Base64.encode(tsig.mac)) }
            parts += ["\(tsig.originalID)", "\(tsig.error)", "\(tsig.otherData.count)"]
            if !tsig.otherData.isEmpty { parts.append(Base64.encode(tsig.otherData)) }
            return parts.joined(separator: " ")
        case .opaque(_, let bytes):
            let hex = bytes.map { byte in
                let digits = Array("0123456789abcdef".utf8)
                return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
            }.joined()
            return bytes.isEmpty ? "\\# 0" : "\\# \(bytes.count) \(hex)"
        }
    }

    /// A character-string in double quotes with `"`, `\` and non-printables escaped.
    static func quoted(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in bytes {
            if byte == UInt8(ascii: " ") {
                out.append(byte)
            } else {
                DNSName.appendEscaped(byte, to: &out, special: [UInt8(ascii: "\""), UInt8(ascii: "\\")])
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }
}

/// Reads typed fields off the remaining RDATA tokens.
struct RDataFields {
    var tokens: ArraySlice<PresentationToken>
    let origin: DNSName?

    mutating func next() -> PresentationToken? { tokens.popFirst() }

    mutating func rest() -> ArraySlice<PresentationToken> {
        defer { tokens = [] }
        return tokens
    }

    mutating func required(_ what: String) throws(DNSWireError) -> PresentationToken {
        guard let token = tokens.popFirst() else { throw DNSWireError(.badPresentation, at: 0, "missing \(what)") }
        return token
    }

    mutating func name() throws(DNSWireError) -> DNSName {
        let token = try required("name")
        return try DNSName(token.string, origin: origin)
    }

    mutating func number<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(DNSWireError) -> T {
        let token = try required(what)
        guard let value = T(token.string) else { throw DNSWireError(.badPresentation, at: token.column, "bad \(what) \"\(token.string)\"") }
        return value
    }

    mutating func ttl(_ what: String) throws(DNSWireError) -> UInt32 {
        let token = try required(what)
        guard let value = ResourceRecord.parseTTL(token.string) else {
            throw DNSWireError(.badPresentation, at: token.column, "bad \(what) \"\(token.string)\"")
        }
        return value
    }

    mutating func base64(count: UInt16) throws(DNSWireError) -> [UInt8] {
        guard count > 0 else { return [] }
        let token = try required("base64 data")
        guard let bytes = Base64.decode(token.string), bytes.count == Int(count) else {
            throw DNSWireError(.badPresentation, at: token.column, "expected \(count) bytes of base64")
        }
        return bytes
    }
}
