extension DNSMessage {
    /// Where the last record of the additional section starts in `bytes`,
    /// or nil when that section is empty.
    ///
    /// TSIG (RFC 8945 §4.3) signs the message as it was before its TSIG
    /// record was appended: a verifier needs the bytes up to that record,
    /// which decoding into `DNSMessage` does not keep.
    public static func lastAdditionalRecordOffset(in bytes: UnsafeRawBufferPointer) throws(DNSWireError) -> Int? {
        var reader = WireReader(bytes)
        try reader.require(12)
        reader.offset = 4
        let questions = Int(try reader.readUInt16())
        let answers = Int(try reader.readUInt16())
        let authority = Int(try reader.readUInt16())
        let additional = Int(try reader.readUInt16())
        guard additional > 0 else { return nil }
        for _ in 0..<questions {
            _ = try reader.readName()
            try reader.require(4)
            reader.offset += 4
        }
        var last = reader.offset
        for _ in 0..<(answers + authority + additional) {
            last = reader.offset
            _ = try reader.readName()
            try reader.require(10)
            reader.offset += 8
            let length = Int(try reader.readUInt16())
            try reader.require(length)
            reader.offset += length
        }
        return last
    }
}

extension DNSName {
    /// The name in canonical wire form (RFC 4034 §6.2): uncompressed, ASCII
    /// letters lowercased, ending with the root label. TSIG MACs cover key
    /// and algorithm names in this form.
    public var canonicalWireBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(wireLength)
        for label in labels {
            bytes.append(UInt8(label.count))
            for byte in label { bytes.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) }
        }
        bytes.append(0)
        return bytes
    }
}
