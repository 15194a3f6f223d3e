/// A whole DNS message: header, the four sections, and EDNS.
///
/// Decoding validates everything and never traps; encoding compresses names.
/// The OPT pseudo-record is lifted out of the additional section into `edns`,
/// and its extended rcode bits into `header.rcode`.
public struct DNSMessage: Hashable, Sendable {
    public var header: DNSHeader
    public var questions: [Question]
    public var answers: [ResourceRecord]
    public var authority: [ResourceRecord]
    /// Additional records other than OPT; a TSIG record, if any, is last.
    public var additional: [ResourceRecord]
    public var edns: EDNS?

    public init(header: DNSHeader = DNSHeader(), questions: [Question] = [], answers: [ResourceRecord] = [], authority: [ResourceRecord] = [], additional: [ResourceRecord] = [], edns: EDNS? = nil) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
        self.edns = edns
    }

    /// Decodes one message that fills `bytes` exactly.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(DNSWireError) {
        var reader = WireReader(bytes)
        let id = try reader.readUInt16()
        header = DNSHeader(id: id, wireFlags: try reader.readUInt16())
        let questionCount = Int(try reader.readUInt16())
        let answerCount = Int(try reader.readUInt16())
        let authorityCount = Int(try reader.readUInt16())
        let additionalCount = Int(try reader.readUInt16())

        questions = []
        // Each question takes at least 5 bytes and each record 11: never reserve
        // more than the input could hold.
        questions.reserveCapacity(min(questionCount, reader.remaining / 5))
        for _ in 0..<questionCount {
            let name = try reader.readName()
            let type = RRType(try reader.readUInt16())
            questions.append(Question(name: name, type: type, class: RRClass(try reader.readUInt16())))
        }
        answers = try Self.decodeRecords(answerCount, from: &reader)
        authority = try Self.decodeRecords(authorityCount, from: &reader)
        additional = []
        edns = nil
        if additionalCount > 0 {
            // No reserve: in a typical query the only additional record is OPT,
            // which does not go into this array.
            for _ in 0..<additionalCount {
                let recordStart = reader.offset
                let name = try reader.readName()
                let type = RRType(try reader.readUInt16())
                if type == .opt {
                    guard edns == nil else { throw DNSWireError(.duplicateOPT, at: recordStart, "second OPT record") }
                    guard name.isRoot else { throw DNSWireError(.misplacedOPT, at: recordStart, "OPT owner is not the root") }
                    edns = try Self.decodeOPT(from: &reader, header: &header)
                } else {
                    additional.append(try Self.decodeRecord(name: name, type: type, from: &reader))
                }
            }
        }
        if reader.offset != bytes.count {
            throw DNSWireError(.trailingBytes, at: reader.offset, "\(bytes.count - reader.offset) bytes after the last record")
        }
    }

    /// Decodes one message from an array of bytes.
    public init(decoding bytes: [UInt8]) throws(DNSWireError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(DNSWireError) in try DNSMessage(decoding: raw) }
        }
        self = try result.get()
    }

    static func decodeRecords(_ count: Int, from reader: inout WireReader) throws(DNSWireError) -> [ResourceRecord] {
        guard count > 0 else { return [] }
        var records: [ResourceRecord] = []
        records.reserveCapacity(min(count, reader.remaining / 11))
        for _ in 0..<count {
            let recordStart = reader.offset
            let name = try reader.readName()
            let type = RRType(try reader.readUInt16())
            guard type != .opt else { throw DNSWireError(.misplacedOPT, at: recordStart, "OPT outside the additional section") }
            records.append(try decodeRecord(name: name, type: type, from: &reader))
        }
        return records
    }

    static func decodeRecord(name: DNSName, type: RRType, from reader: inout WireReader) throws(DNSWireError) -> ResourceRecord {
        let rrClass = RRClass(try reader.readUInt16())
        let ttl = try reader.readUInt32()
        let length = Int(try reader.readUInt16())
        let data = try RecordData.decode(type: type, length: length, from: &reader)
        return ResourceRecord(name: name, class: rrClass, ttl: ttl, data: data)
    }

    static func decodeOPT(from reader: inout WireReader, header: inout DNSHeader) throws(DNSWireError) -> EDNS {
        let payloadSize = try reader.readUInt16()
        let extendedRcode = try reader.readUInt8()
        let version = try reader.readUInt8()
        let flags = try reader.readUInt16()
        let length = Int(try reader.readUInt16())
        let start = reader.offset
        try reader.require(length)
        var options: [EDNSOption] = []
        while reader.offset < start + length {
            let code = try reader.readUInt16()
            let optionLength = Int(try reader.readUInt16())
            guard reader.offset + optionLength <= start + length else {
                throw DNSWireError(.rdataLengthMismatch, at: reader.offset - 4, "EDNS option runs past the OPT RDATA")
            }
            options.append(EDNSOption(code: code, data: try reader.readBytes(optionLength)))
        }
        header.rcode = ResponseCode(rawValue: UInt16(extendedRcode) << 4 | header.rcode.rawValue & 0x0F)
        return EDNS(udpPayloadSize: payloadSize, version: version, dnssecOK: flags & 0x8000 != 0, reservedFlags: flags & 0x7FFF, options: options)
    }

    /// Encodes into `buffer`, at most `maxSize` bytes; returns the length.
    /// Throws `noSpace` when the message does not fit (no truncation here:
    /// servers truncate with `DNSMessageWriter`).
    public func encode(into buffer: UnsafeMutableRawBufferPointer, maxSize: Int = 0xFFFF) throws(DNSWireError) -> Int {
        var writer = DNSMessageWriter(buffer: buffer, maxSize: maxSize)
        try writer.writeHeader(header)
        if let edns { try writer.reserveEDNS(edns) }
        for question in questions { try writer.append(question) }
        for (records, section) in [(answers, MessageSection.answer), (authority, .authority), (additional, .additional)] where !records.isEmpty {
            guard try writer.append(records, to: section) else {
                throw DNSWireError(.noSpace, at: writer.count, "message does not fit in \(maxSize) bytes")
            }
        }
        return try writer.finish()
    }

    /// Encodes into a new array of at most `maxSize` bytes.
    public func encode(maxSize: Int = 0xFFFF) throws(DNSWireError) -> [UInt8] {
        var firstError: DNSWireError? = nil
        for capacity in [min(512, maxSize), min(maxSize, 0xFFFF)] where capacity > 0 {
            if firstError != nil && capacity <= 512 { break }
            var failure: DNSWireError? = nil
            let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { raw, initialized in
                initialized = 0
                do throws(DNSWireError) {
                    let raw = UnsafeMutableRawBufferPointer(raw)
                    raw.initializeMemory(as: UInt8.self, repeating: 0)
                    initialized = try encode(into: raw, maxSize: capacity)
                } catch {
                    failure = error
                }
            }
            guard let failure else { return bytes }
            guard failure.code == .noSpace else { throw failure }
            firstError = failure
        }
        throw firstError ?? DNSWireError(.noSpace, "maxSize \(maxSize) leaves no room")
    }
}
