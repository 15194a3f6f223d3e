/// Transaction signature RDATA (RFC 8945 §4.2). Signing and verifying belong
/// to the server; this is the record's content.
public struct TSIG: Hashable, Sendable {
    /// `hmac-sha256.` and friends; never compressed on output.
    public var algorithm: DNSName
    /// Seconds since the epoch; 48 bits on the wire.
    public var timeSigned: UInt64
    /// Permitted clock error, in seconds.
    public var fudge: UInt16
    public var mac: [UInt8]
    /// The message ID the signer saw before any forwarder rewrote it.
    public var originalID: UInt16
    /// A TSIG error (BADSIG, BADKEY, BADTIME, BADTRUNC) or NOERROR.
    public var error: ResponseCode
    /// Carries the server time with BADTIME.
    public var otherData: [UInt8]

    public init(algorithm: DNSName, timeSigned: UInt64, fudge: UInt16, mac: [UInt8], originalID: UInt16, error: ResponseCode, otherData: [UInt8]) {
        self.algorithm = algorithm
        self.timeSigned = timeSigned & 0xFFFF_FFFF_FFFF
        self.fudge = fudge
        self.mac = mac
        self.originalID = originalID
        self.error = error
        self.otherData = otherData
    }
}
