/// The RDATA of a resource record, typed for the types an authoritative
/// server works with and opaque (RFC 3597) for every other type.
///
/// The record type follows from the case, so a record's type and data cannot
/// disagree. OPT is not here: EDNS lives in `DNSMessage.edns`.
public enum RecordData: Hashable, Sendable {
    case a(IPv4Address)
    case aaaa(IPv6Address)
    case ns(DNSName)
    case cname(DNSName)
    case ptr(DNSName)
    case soa(SOA)
    case mx(MX)
    case srv(SRV)
    case txt(TXT)
    case caa(CAA)
    case tsig(TSIG)
    /// Any other type, or a known type with empty RDATA (UPDATE deletions),
    /// kept byte for byte.
    case opaque(RRType, [UInt8])

    /// The record type this data belongs to.
    public var type: RRType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ns: .ns
        case .cname: .cname
        case .ptr: .ptr
        case .soa: .soa
        case .mx: .mx
        case .srv: .srv
        case .txt: .txt
        case .caa: .caa
        case .tsig: .tsig
        case .opaque(let type, _): type
        }
    }

    /// Decodes RDATA of `type` that occupies exactly `length` bytes at the reader's offset.
    static func decode(type: RRType, length: Int, from reader: inout WireReader) throws(DNSWireError) -> RecordData {
        let start = reader.offset
        try reader.require(length)
        let end = start + length
        if length == 0 { return .opaque(type, []) }
        let data: RecordData
        switch type {
        case .a:
            guard length == 4 else { throw DNSWireError(.badRecordData, at: start, "A RDATA of \(length) bytes") }
            data = .a(IPv4Address(rawValue: try reader.readUInt32()))
        case .aaaa:
            guard length == 16 else { throw DNSWireError(.badRecordData, at: start, "AAAA RDATA of \(length) bytes") }
            let high = UInt64(try reader.readUInt32()) << 32 | UInt64(try reader.readUInt32())
            let low = UInt64(try reader.readUInt32()) << 32 | UInt64(try reader.readUInt32())
            data = .aaaa(IPv6Address(high: high, low: low))
        case .ns: data = .ns(try reader.readName())
        case .cname: data = .cname(try reader.readName())
        case .ptr: data = .ptr(try reader.readName())
        case .soa:
            let mname = try reader.readName()
            let rname = try reader.readName()
            data = .soa(SOA(
                mname: mname, rname: rname, serial: try reader.readUInt32(), refresh: try reader.readUInt32(),
                retry: try reader.readUInt32(), expire: try reader.readUInt32(), minimum: try reader.readUInt32()))
        case .mx:
            let preference = try reader.readUInt16()
            data = .mx(MX(preference: preference, exchange: try reader.readName()))
        case .srv:
            let priority = try reader.readUInt16()
            let weight = try reader.readUInt16()
            let port = try reader.readUInt16()
            data = .srv(SRV(priority: priority, weight: weight, port: port, target: try reader.readName()))
        case .txt:
            var strings: [[UInt8]] = []
            while reader.offset < end {
                let count = Int(try reader.readUInt8())
                guard reader.offset + count <= end else {
                    throw DNSWireError(.badRecordData, at: reader.offset - 1, "TXT string runs past its RDATA")
                }
                strings.append(try reader.readBytes(count))
            }
            data = .txt(TXT(unchecked: strings))
        case .caa:
            let flags = try reader.readUInt8()
            let tagLength = Int(try reader.readUInt8())
            guard reader.offset + tagLength <= end else {
                throw DNSWireError(.badRecordData, at: reader.offset - 1, "CAA tag runs past its RDATA")
            }
            let tag = try reader.readBytes(tagLength)
            guard CAA.isValidTag(tag) else { throw DNSWireError(.badRecordData, at: start + 2, "CAA tag is not 1–15 letters and digits") }
            let value = try reader.readBytes(end - reader.offset)
            data = .caa(try CAA(flags: flags, tag: String(decoding: tag, as: UTF8.self), value: value))
        case .tsig:
            let algorithm = try reader.readName()
            let time = UInt64(try reader.readUInt16()) << 32 | UInt64(try reader.readUInt32())
            let fudge = try reader.readUInt16()
            let mac = try reader.readBytes(Int(try reader.readUInt16()))
            let originalID = try reader.readUInt16()
            let error = ResponseCode(rawValue: try reader.readUInt16())
            let other = try reader.readBytes(Int(try reader.readUInt16()))
            data = .tsig(TSIG(algorithm: algorithm, timeSigned: time, fudge: fudge, mac: mac, originalID: originalID, error: error, otherData: other))
        default:
            data = .opaque(type, try reader.readBytes(length))
        }
        guard reader.offset == end else {
            throw DNSWireError(.rdataLengthMismatch, at: start, "\(type) RDATA used \(reader.offset - start) of \(length) bytes")
        }
        return data
    }

    /// Writes the RDATA (without its length). Names in the RFC 1035 types are
    /// compressed; SRV and TSIG names never are (RFC 2782, RFC 8945).
    func encode(into writer: inout WireWriter) throws(DNSWireError) {
        switch self {
        case .a(let address): try writer.writeUInt32(address.rawValue)
        case .aaaa(let address):
            try writer.writeUInt32(UInt32(truncatingIfNeeded: address.high >> 32))
            try writer.writeUInt32(UInt32(truncatingIfNeeded: address.high))
            try writer.writeUInt32(UInt32(truncatingIfNeeded: address.low >> 32))
            try writer.writeUInt32(UInt32(truncatingIfNeeded: address.low))
        case .ns(let name), .cname(let name), .ptr(let name): try writer.writeName(name, compress: true)
        case .soa(let soa):
            try writer.writeName(soa.mname, compress: true)
            try writer.writeName(soa.rname, compress: true)
            try writer.writeUInt32(soa.serial)
            try writer.writeUInt32(soa.refresh)
            try writer.writeUInt32(soa.retry)
            try writer.writeUInt32(soa.expire)
            try writer.writeUInt32(soa.minimum)
        case .mx(let mx):
            try writer.writeUInt16(mx.preference)
            try writer.writeName(mx.exchange, compress: true)
        case .srv(let srv):
            try writer.writeUInt16(srv.priority)
            try writer.writeUInt16(srv.weight)
            try writer.writeUInt16(srv.port)
            try writer.writeName(srv.target, compress: false)
        case .txt(let txt):
            for string in txt.strings {
                try writer.writeUInt8(UInt8(string.count))
                try writer.writeBytes(string)
            }
        case .caa(let caa):
            try writer.writeUInt8(caa.flags)
            let tag = Array(caa.tag.utf8)
            try writer.writeUInt8(UInt8(tag.count))
            try writer.writeBytes(tag)
            try writer.writeBytes(caa.value)
        case .tsig(let tsig):
            try writer.writeName(tsig.algorithm, compress: false)
            try writer.writeUInt16(UInt16(truncatingIfNeeded: tsig.timeSigned >> 32))
            try writer.writeUInt32(UInt32(truncatingIfNeeded: tsig.timeSigned))
            try writer.writeUInt16(tsig.fudge)
            guard tsig.mac.count <= 0xFFFF, tsig.otherData.count <= 0xFFFF else {
                throw DNSWireError(.badRecordData, "TSIG MAC or other data over 65535 bytes")
            }
            try writer.writeUInt16(UInt16(tsig.mac.count))
            try writer.writeBytes(tsig.mac)
            try writer.writeUInt16(tsig.originalID)
            try writer.writeUInt16(tsig.error.rawValue)
            try writer.writeUInt16(UInt16(tsig.otherData.count))
            try writer.writeBytes(tsig.otherData)
        case .opaque(_, let bytes): try writer.writeBytes(bytes)
        }
    }
}
