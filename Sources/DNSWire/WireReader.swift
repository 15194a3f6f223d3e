/// A bounds-checked cursor over one DNS message.
///
/// Every read checks the remaining length first and throws `truncated` instead
/// of reading past the end, so no input can make the decoder trap.
struct WireReader: ~Copyable {
    let bytes: UnsafeRawBufferPointer
    var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    @inline(__always)
    mutating func require(_ count: Int) throws(DNSWireError) {
        guard count <= bytes.count - offset else {
            throw DNSWireError(.truncated, at: offset, "need \(count) bytes, \(bytes.count - offset) left")
        }
    }

    @inline(__always)
    mutating func readUInt8() throws(DNSWireError) -> UInt8 {
        try require(1)
        let value = bytes[offset]
        offset &+= 1
        return value
    }

    @inline(__always)
    mutating func readUInt16() throws(DNSWireError) -> UInt16 {
        try require(2)
        let value = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset &+ 1])
        offset &+= 2
        return value
    }

    @inline(__always)
    mutating func readUInt32() throws(DNSWireError) -> UInt32 {
        try require(4)
        var value: UInt32 = 0
        for index in offset..<(offset &+ 4) { value = value << 8 | UInt32(bytes[index]) }
        offset &+= 4
        return value
    }

    mutating func readBytes(_ count: Int) throws(DNSWireError) -> [UInt8] {
        try require(count)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset &+ count)])
        offset &+= count
        return [UInt8](slice)
    }

    /// Reads a possibly compressed name (RFC 1035 §4.1.4).
    ///
    /// Each pointer must point strictly before the start of the segment it is
    /// read from, so the walk always terminates: a pointer at or after itself is
    /// `badPointer`, one back into the segment being read is `pointerLoop`.
    /// The name is validated and measured first, then copied into one exactly
    /// sized allocation.
    mutating func readName() throws(DNSWireError) -> DNSName {
        var position = offset
        var segmentStart = offset
        var resumeAt: Int? = nil
        var length = 0  // wire bytes of labels, without the root byte
        while true {
            guard position < bytes.count else {
                throw DNSWireError(.truncated, at: position, "name runs past the end")
            }
            let lengthByte = Int(bytes[position])
            switch lengthByte & 0xC0 {
            case 0x00:
                if lengthByte == 0 {
                    return DNSName(copyingValidated: bytes, from: offset, labelBytes: length, endOffset: &self.offset, resumeAt: resumeAt ?? position &+ 1)
                }
                guard position &+ 1 &+ lengthByte <= bytes.count else {
                    throw DNSWireError(.truncated, at: position, "label runs past the end")
                }
                length &+= 1 &+ lengthByte
                guard length < DNSName.maxWireLength else {
                    throw DNSWireError(.nameTooLong, at: offset, "name longer than 255 bytes")
                }
                position &+= 1 &+ lengthByte
            case 0xC0:
                guard position &+ 1 < bytes.count else {
                    throw DNSWireError(.truncated, at: position, "pointer runs past the end")
                }
                let target = (lengthByte & 0x3F) << 8 | Int(bytes[position &+ 1])
                if target >= position {
                    throw DNSWireError(.badPointer, at: position, "pointer to \(target) does not point backwards")
                }
                if target >= segmentStart {
                    throw DNSWireError(.pointerLoop, at: position, "pointer to \(target) loops")
                }
                if resumeAt == nil { resumeAt = position &+ 2 }
                segmentStart = target
                position = target
            default:
                throw DNSWireError(.badLabelType, at: position, "label type 0x\(String(lengthByte & 0xC0, radix: 16))")
            }
        }
    }
}

extension DNSName {
    /// Second pass of `WireReader.readName`: copies an already validated name.
    init(copyingValidated bytes: UnsafeRawBufferPointer, from start: Int, labelBytes: Int, endOffset: inout Int, resumeAt: Int) {
        let storage = [UInt8](unsafeUninitializedCapacity: labelBytes) { out, initialized in
            var position = start
            var written = 0
            while written < labelBytes {
                let lengthByte = Int(bytes[position])
                if lengthByte & 0xC0 == 0xC0 {
                    position = (lengthByte & 0x3F) << 8 | Int(bytes[position + 1])
                    continue
                }
                let count = lengthByte + 1
                for index in 0..<count { out[written + index] = bytes[position + index] }
                written += count
                position += count
            }
            initialized = labelBytes
        }
        self.init(uncheckedStorage: storage)
        endOffset = resumeAt
    }
}
