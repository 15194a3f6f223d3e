/// A bounds-checked cursor that writes one DNS message into caller memory,
/// stopping at a size limit instead of growing.
///
/// Running out of room throws `noSpace`; `DNSMessageWriter` uses that to drop
/// whole RRsets and set TC, with no second encoding pass.
struct WireWriter {
    let buffer: UnsafeMutableRawBufferPointer
    var limit: Int
    var position = 0
    var compressor = NameCompressor()

    init(buffer: UnsafeMutableRawBufferPointer, limit: Int) {
        self.buffer = buffer
        self.limit = min(limit, buffer.count, 0xFFFF)
    }

    @inline(__always)
    func require(_ count: Int) throws(DNSWireError) {
        guard count <= limit &- position else {
            throw DNSWireError(.noSpace, at: position, "message would exceed \(limit) bytes")
        }
    }

    @inline(__always)
    mutating func writeUInt8(_ value: UInt8) throws(DNSWireError) {
        try require(1)
        buffer[position] = value
        position &+= 1
    }

    @inline(__always)
    mutating func writeUInt16(_ value: UInt16) throws(DNSWireError) {
        try require(2)
        buffer[position] = UInt8(truncatingIfNeeded: value >> 8)
        buffer[position &+ 1] = UInt8(truncatingIfNeeded: value)
        position &+= 2
    }

    @inline(__always)
    mutating func writeUInt32(_ value: UInt32) throws(DNSWireError) {
        try require(4)
        buffer[position] = UInt8(truncatingIfNeeded: value >> 24)
        buffer[position &+ 1] = UInt8(truncatingIfNeeded: value >> 16)
        buffer[position &+ 2] = UInt8(truncatingIfNeeded: value >> 8)
        buffer[position &+ 3] = UInt8(truncatingIfNeeded: value)
        position &+= 4
    }

    @inline(__always)
    mutating func writeBytes(_ bytes: [UInt8]) throws(DNSWireError) {
        try require(bytes.count)
        bytes.withUnsafeBytes { source in
            UnsafeMutableRawBufferPointer(rebasing: buffer[position..<(position &+ source.count)]).copyMemory(from: source)
        }
        position &+= bytes.count
    }

    /// Overwrites two bytes already written (counts, RDLENGTH).
    @inline(__always)
    func patchUInt16(_ value: UInt16, at offset: Int) {
        buffer[offset] = UInt8(truncatingIfNeeded: value >> 8)
        buffer[offset &+ 1] = UInt8(truncatingIfNeeded: value)
    }

    /// Writes `name`, pointing at the longest suffix already in the message
    /// when `compress` is set. Every label written in full becomes a target.
    mutating func writeName(_ name: DNSName, compress: Bool) throws(DNSWireError) {
        try name.storage.withUnsafeBufferPointer { (labels) throws(DNSWireError) in
            let start = name.start
            var cursor = start
            var pointer: Int? = nil
            if compress {
                while cursor < labels.count {
                    if let found = compressor.find(labels, from: cursor, in: buffer) {
                        pointer = found
                        break
                    }
                    cursor &+= Int(labels[cursor]) &+ 1
                }
            } else {
                cursor = labels.count
            }
            let literal = cursor &- start
            try require(literal &+ (pointer == nil ? 1 : 2))
            var label = start
            while label < cursor {
                compressor.remember(position &+ label &- start)
                label &+= Int(labels[label]) &+ 1
            }
            if literal > 0 {
                UnsafeMutableRawBufferPointer(rebasing: buffer[position..<(position &+ literal)])
                    .copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: labels[start..<cursor])))
                position &+= literal
            }
            if let pointer {
                buffer[position] = UInt8(0xC0 | pointer >> 8)
                buffer[position &+ 1] = UInt8(truncatingIfNeeded: pointer)
                position &+= 2
            } else {
                buffer[position] = 0
                position &+= 1
            }
        }
    }

    /// Writes a whole record; `owner` replaces the record's name (wildcard synthesis).
    mutating func writeRecord(_ record: ResourceRecord, owner: DNSName? = nil) throws(DNSWireError) {
        try writeName(owner ?? record.name, compress: true)
        try writeUInt16(record.type.rawValue)
        try writeUInt16(record.rrClass.rawValue)
        try writeUInt32(record.ttl)
        let lengthOffset = position
        try writeUInt16(0)
        try record.data.encode(into: &self)
        let length = position - lengthOffset - 2
        guard length <= 0xFFFF else { throw DNSWireError(.badRecordData, at: lengthOffset, "RDATA over 65535 bytes") }
        patchUInt16(UInt16(length), at: lengthOffset)
    }
}
