/// Writes a DNS message section by section into memory the caller owns, with
/// a hard size limit, name compression and whole-RRset truncation.
///
/// A server answering over UDP writes the header and question, then each
/// RRset with `append(_:to:)`; when one does not fit, the writer has already
/// rolled back to the end of the previous RRset, and the server sets TC or
/// stops adding optional records. Nothing is encoded twice and nothing is
/// allocated. Sections must be written in order.
///
/// ```swift
/// let length = try buffer.withUnsafeMutableBytes { raw in
///     var writer = DNSMessageWriter(buffer: raw, maxSize: 512)
///     try writer.writeHeader(header)
///     try writer.append(question)
///     if !writer.append(answers, to: .answer) { writer.setTruncated() }
///     return try writer.finish()
/// }
/// ```
public struct DNSMessageWriter {
    var wire: WireWriter
    var counts: (UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0)
    var section = MessageSection.question
    var reserved = 0
    var header = DNSHeader()
    var edns: EDNS? = nil

    /// A writer over `buffer` that never writes past `maxSize` bytes (nor 65535).
    public init(buffer: UnsafeMutableRawBufferPointer, maxSize: Int) {
        wire = WireWriter(buffer: buffer, limit: maxSize)
    }

    /// Bytes written so far.
    public var count: Int { wire.position }

    /// Writes the 12-byte header; counts are filled in by `finish()`.
    public mutating func writeHeader(_ header: DNSHeader) throws(DNSWireError) {
        precondition(wire.position == 0, "the header comes first")
        self.header = header
        try wire.require(12)
        for _ in 0..<12 { try wire.writeUInt8(0) }
    }

    /// Keeps room for an OPT record written by `finish()`, so that answer
    /// records can never crowd it out.
    public mutating func reserveEDNS(_ edns: EDNS) throws(DNSWireError) {
        let needed = edns.wireLength
        try wire.require(needed + reserved)
        reserved += needed
        self.edns = edns
    }

    /// Sets the TC flag in the header written by `finish()`.
    public mutating func setTruncated() { header.flags.insert(.truncated) }

    /// Appends one question.
    public mutating func append(_ question: Question) throws(DNSWireError) {
        precondition(section == .question, "questions come before records")
        try withRollback { (writer) throws(DNSWireError) in
            try writer.writeName(question.name, compress: true)
            try writer.writeUInt16(question.type.rawValue)
            try writer.writeUInt16(question.qClass.rawValue)
        }
        counts.0 &+= 1
    }

    /// Appends `records` to `section` all or nothing. Returns false, with the
    /// message unchanged, when they do not fit; other errors throw.
    /// `owner` replaces each record's name, for wildcard synthesis.
    @discardableResult
    public mutating func append(_ records: [ResourceRecord], to section: MessageSection, owner: DNSName? = nil) throws(DNSWireError) -> Bool {
        try appendAll(records, to: section, owner: owner)
    }

    /// Appends one record; see `append(_:to:owner:)`.
    @discardableResult
    public mutating func append(_ record: ResourceRecord, to section: MessageSection, owner: DNSName? = nil) throws(DNSWireError) -> Bool {
        try appendAll(CollectionOfOne(record), to: section, owner: owner)
    }

    // Generic only inside the module, where it is specialised: called
    // unspecialised from another module it allocated per record.
    private mutating func appendAll<Records: Sequence<ResourceRecord>>(_ records: Records, to section: MessageSection, owner: DNSName?) throws(DNSWireError) -> Bool {
        precondition(section != .question && section >= self.section, "sections are written in order")
        self.section = section
        var added: UInt16 = 0
        do {
            try withRollback { (writer) throws(DNSWireError) in
                for record in records {
                    try writer.writeRecord(record, owner: owner)
                    added &+= 1
                }
            }
        } catch where error.code == .noSpace {
            return false
        }
        switch section {
        case .answer: counts.1 &+= added
        case .authority: counts.2 &+= added
        case .additional: counts.3 &+= added
        case .question: break
        }
        return true
    }

    /// Writes the OPT record (if any), fills in counts, flags and rcode, and
    /// returns the message length.
    public mutating func finish() throws(DNSWireError) -> Int {
        var additional = counts.3
        if let edns {
            reserved = 0
            try writeOPT(edns)
            additional &+= 1
        } else if header.rcode.rawValue > 0x0F {
            throw DNSWireError(.rcodeNeedsEDNS, "rcode \(header.rcode) needs an OPT record")
        }
        guard wire.position >= 12 else { throw DNSWireError(.noSpace, at: 0, "no header written") }
        wire.patchUInt16(header.id, at: 0)
        wire.patchUInt16(header.wireFlags, at: 2)
        wire.patchUInt16(counts.0, at: 4)
        wire.patchUInt16(counts.1, at: 6)
        wire.patchUInt16(counts.2, at: 8)
        wire.patchUInt16(additional, at: 10)
        return wire.position
    }

    private mutating func writeOPT(_ edns: EDNS) throws(DNSWireError) {
        try wire.writeUInt8(0)
        try wire.writeUInt16(RRType.opt.rawValue)
        try wire.writeUInt16(edns.udpPayloadSize)
        try wire.writeUInt8(UInt8(truncatingIfNeeded: header.rcode.rawValue >> 4))
        try wire.writeUInt8(edns.version)
        try wire.writeUInt16((edns.dnssecOK ? 0x8000 : 0) | edns.reservedFlags & 0x7FFF)
        let lengthOffset = wire.position
        try wire.writeUInt16(0)
        for option in edns.options {
            guard option.data.count <= 0xFFFF else { throw DNSWireError(.badRecordData, "EDNS option over 65535 bytes") }
            try wire.writeUInt16(option.code)
            try wire.writeUInt16(UInt16(option.data.count))
            try wire.writeBytes(option.data)
        }
        wire.patchUInt16(UInt16(wire.position - lengthOffset - 2), at: lengthOffset)
    }

    /// Runs `body` against a writer limited to leave the reserved space free,
    /// and undoes everything it wrote if it throws.
    private mutating func withRollback(_ body: (inout WireWriter) throws(DNSWireError) -> Void) throws(DNSWireError) {
        let position = wire.position
        let compressorCount = wire.compressor.count
        let limit = wire.limit
        wire.limit = limit - reserved
        defer { wire.limit = limit }
        do {
            try body(&wire)
        } catch {
            wire.position = position
            wire.compressor.count = compressorCount
            throw error
        }
    }
}
