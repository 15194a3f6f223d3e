import DNSWire

/// A TSIG key as the signing code needs it: name, algorithm and secret.
/// Never printed: `description` leaves the secret out.
public struct TSIGCredential: Sendable, Hashable, CustomStringConvertible {
    public var name: DNSName
    public var algorithm: TSIGAlgorithm
    public var secret: [UInt8]

    public init(name: DNSName, algorithm: TSIGAlgorithm, secret: [UInt8]) {
        self.name = name
        self.algorithm = algorithm
        self.secret = secret
    }

    public var description: String { "\(name) (\(algorithm))" }
}

/// Signs DNS messages with TSIG (RFC 8945 §4.3, §5.3): requests as a
/// client does, the first response to a verified request, and the later
/// messages of a multi-message response such as a zone transfer
/// (§5.3.1), each of which chains to the MAC before it.
///
/// Messages go in as encoded bytes without a TSIG record and come out with
/// one appended (ARCOUNT raised); the MAC comes back too, as the next
/// message's "prior MAC" or to verify the response to a request.
public struct TSIGSigner: Sendable {
    public let credential: TSIGCredential
    /// Permitted clock error sent in each TSIG record.
    public var fudge: UInt16

    public init(credential: TSIGCredential, fudge: UInt16 = 300) {
        self.credential = credential
        self.fudge = fudge
    }

    /// Signs a request; `time` is in seconds since the epoch.
    public func sign(request message: [UInt8], time: UInt64) -> (message: [UInt8], mac: [UInt8]) {
        sign(message, prefix: [], time: time, error: .noError, otherData: [], timersOnly: false)
    }

    /// Signs a response (or the first message of a multi-message response)
    /// to a request whose MAC was `requestMAC` (as received, so truncated
    /// if the client truncated it). `error` and `otherData` carry BADTIME
    /// and BADTRUNC.
    public func sign(response message: [UInt8], requestMAC: [UInt8], time: UInt64, error: ResponseCode = .noError, otherData: [UInt8] = []) -> (message: [UInt8], mac: [UInt8]) {
        sign(message, prefix: Self.sized(requestMAC), time: time, error: error, otherData: otherData, timersOnly: false)
    }

    /// Signs a later message of a multi-message response (RFC 8945 §5.3.1):
    /// its MAC covers the prior message's MAC, this message and the timers only.
    public func sign(continuation message: [UInt8], priorMAC: [UInt8], time: UInt64) -> (message: [UInt8], mac: [UInt8]) {
        sign(message, prefix: Self.sized(priorMAC), time: time, error: .noError, otherData: [], timersOnly: true)
    }

    private func sign(_ message: [UInt8], prefix: [UInt8], time: UInt64, error: ResponseCode, otherData: [UInt8], timersOnly: Bool) -> (message: [UInt8], mac: [UInt8]) {
        let originalID = message.count >= 2 ? UInt16(message[0]) << 8 | UInt16(message[1]) : 0
        var record = TSIG(algorithm: credential.algorithm.name, timeSigned: time, fudge: fudge, mac: [], originalID: originalID, error: error, otherData: otherData)
        let input = prefix + message + TSIGDigest.variables(keyName: credential.name, record: record, timersOnly: timersOnly)
        record.mac = credential.algorithm.mac(secret: credential.secret, data: input)
        return (TSIGDigest.appending(record, keyName: credential.name, to: message), record.mac)
    }

    /// A MAC as the next digest takes it: 2-byte length, then the MAC.
    static func sized(_ mac: [UInt8]) -> [UInt8] {
        [UInt8(truncatingIfNeeded: mac.count >> 8), UInt8(truncatingIfNeeded: mac.count)] + mac
    }
}

/// The byte layouts that TSIG MACs cover and TSIG records take on the wire.
enum TSIGDigest {
    /// The TSIG variables of RFC 8945 §4.3.3, or only the timers (§4.3.2)
    /// for the later messages of a multi-message response.
    static func variables(keyName: DNSName, record: TSIG, timersOnly: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        if !timersOnly {
            bytes += keyName.canonicalWireBytes
            bytes += [0x00, 0xFF, 0, 0, 0, 0]  // class ANY, TTL 0
            bytes += record.algorithm.canonicalWireBytes
        }
        bytes += time48(record.timeSigned)
        append16(record.fudge, to: &bytes)
        if !timersOnly {
            append16(record.error.rawValue, to: &bytes)
            append16(UInt16(truncatingIfNeeded: record.otherData.count), to: &bytes)
            bytes += record.otherData
        }
        return bytes
    }

    /// `message` with `record` appended as its last additional record.
    static func appending(_ record: TSIG, keyName: DNSName, to message: [UInt8]) -> [UInt8] {
        var bytes = message
        guard bytes.count >= 12 else { return bytes }
        let count = (UInt16(bytes[10]) << 8 | UInt16(bytes[11])) &+ 1
        bytes[10] = UInt8(count >> 8)
        bytes[11] = UInt8(count & 0xFF)
        bytes += keyName.canonicalWireBytes
        bytes += [0x00, 0xFA, 0x00, 0xFF, 0, 0, 0, 0]  // type TSIG, class ANY, TTL 0
        var data = record.algorithm.canonicalWireBytes
        data += time48(record.timeSigned)
        append16(record.fudge, to: &data)
        append16(UInt16(truncatingIfNeeded: record.mac.count), to: &data)
        data += record.mac
        append16(record.originalID, to: &data)
        append16(record.error.rawValue, to: &data)
        append16(UInt16(truncatingIfNeeded: record.otherData.count), to: &data)
        data += record.otherData
        append16(UInt16(truncatingIfNeeded: data.count), to: &bytes)
        return bytes + data
    }

    /// Bytes a TSIG record with this key, algorithm and MAC length takes.
    static func recordLength(keyName: DNSName, algorithm: TSIGAlgorithm, otherData: Int = 6) -> Int {
        keyName.wireLength + 10 + algorithm.name.wireLength + 16 + algorithm.digestLength + otherData
    }

    /// The message a TSIG record at `offset` signed: everything before the
    /// record, ARCOUNT one lower and the ID the signer saw.
    static func unsigned(_ bytes: [UInt8], tsigOffset: Int, originalID: UInt16) -> [UInt8] {
        var message = Array(bytes[0..<tsigOffset])
        let count = (UInt16(message[10]) << 8 | UInt16(message[11])) &- 1
        message[0] = UInt8(originalID >> 8)
        message[1] = UInt8(originalID & 0xFF)
        message[10] = UInt8(count >> 8)
        message[11] = UInt8(count & 0xFF)
        return message
    }

    static func time48(_ time: UInt64) -> [UInt8] {
        (0..<6).map { UInt8(truncatingIfNeeded: time >> (8 * (5 - $0))) }
    }

    static func append16(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }
}
