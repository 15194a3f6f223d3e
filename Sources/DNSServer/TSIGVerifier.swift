import DNSWire
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a verified request leaves for signing its response.
public struct TSIGContext: Sendable {
    public let credential: TSIGCredential
    /// The request's MAC as received (truncated if the client truncated it).
    public let requestMAC: [UInt8]
    public let timeSigned: UInt64
    public let fudge: UInt16
    public let originalID: UInt16

    /// The signer for the response, with the request's fudge.
    public var signer: TSIGSigner { TSIGSigner(credential: credential, fudge: fudge) }
}

/// Why a signed message was not accepted (RFC 8945 §5.2).
public struct TSIGFailure: Error, Sendable, CustomStringConvertible {
    /// BADKEY, BADSIG, BADTIME or BADTRUNC (the TSIG error; the response's
    /// rcode is NOTAUTH), or FORMERR for a TSIG record that breaks the
    /// format rules (the response is a plain FORMERR).
    public let error: ResponseCode
    public let keyName: DNSName
    /// The request's TSIG record.
    public let record: TSIG
    /// Set for BADTIME and BADTRUNC, whose responses are signed; nil for
    /// the errors answered unsigned (BADKEY, BADSIG).
    public let context: TSIGContext?
    public let reason: String

    public var description: String { "\(error) for key \(keyName): \(reason)" }
}

/// The TSIG record of a received message and where it starts.
public struct SignedMessage: Sendable {
    public let keyName: DNSName
    public let record: TSIG
    /// Offset of the TSIG record in the message bytes.
    public let offset: Int

    /// Finds the TSIG record of `message`, decoded from `bytes`: nil when
    /// there is none; throws FORMERR (RFC 8945 §5.1) when a TSIG record is
    /// anywhere but last in the additional section or has the wrong class or TTL.
    public static func find(in message: DNSMessage, bytes: [UInt8]) -> Result<SignedMessage?, TSIGFormatError> {
        let elsewhere = message.answers.contains { $0.type == .tsig } || message.authority.contains { $0.type == .tsig }
            || message.additional.dropLast().contains { $0.type == .tsig }
        guard !elsewhere else { return .failure(TSIGFormatError(reason: "TSIG record that is not the last record")) }
        guard let last = message.additional.last, case .tsig(let record) = last.data else { return .success(nil) }
        guard last.rrClass == .any, last.ttl == 0 else { return .failure(TSIGFormatError(reason: "TSIG record with class \(last.rrClass) or TTL \(last.ttl)")) }
        let offset: Int?? = bytes.withUnsafeBytes { raw in try? DNSMessage.lastAdditionalRecordOffset(in: raw) }
        guard let found = offset ?? nil else { return .failure(TSIGFormatError(reason: "TSIG record not found in the bytes")) }
        return .success(SignedMessage(keyName: last.name, record: record, offset: found))
    }
}

/// A TSIG record that breaks the message format; answered with FORMERR.
public struct TSIGFormatError: Error, Sendable {
    public let reason: String
}

/// Verifies TSIG-signed requests as a server must (RFC 8945 §5.2): the key
/// is known and uses the algorithm the record names, the MAC is right
/// (compared in constant time, truncated only as far as §5.2.2.1 allows
/// and local policy accepts), the time is within the fudge, and, for
/// UPDATE, the same message was not accepted before (a replay inside the
/// time window).
///
/// One verifier is shared by every connection: it remembers the MACs of
/// the requests it accepted until their time window closes (then the time
/// check refuses them anyway), at most `replayCacheSize` of them. Messages
/// from concurrent clients of one key may arrive in any order of their
/// times; only the identical message is refused again.
public final class TSIGVerifier: Sendable {
    /// The widest clock error accepted, whatever fudge a request claims.
    public let maximumFudge: UInt16
    private let clock: @Sendable () -> UInt64
    private let accepted: NIOLockedValueBox<ReplayCache>

    /// MACs remembered at most; beyond it the oldest are forgotten first.
    public static let replayCacheSize = 65_536

    public init(maximumFudge: UInt16 = 300, clock: @escaping @Sendable () -> UInt64 = { UInt64(time(nil)) }, replayCacheSize: Int = TSIGVerifier.replayCacheSize) {
        self.maximumFudge = maximumFudge
        self.clock = clock
        accepted = NIOLockedValueBox(ReplayCache(capacity: replayCacheSize))
    }

    /// Seconds since the epoch, as this verifier sees them.
    public var now: UInt64 { clock() }

    /// The shortest MAC accepted for `algorithm`: 16 bytes, or half the
    /// digest when that is longer (never more than the whole digest).
    public static func localMinimumMACLength(_ algorithm: TSIGAlgorithm) -> Int {
        min(algorithm.digestLength, max(16, algorithm.minimumMACLength))
    }

    /// Verifies `signed`, found in `bytes`, with `credential` (the key the
    /// record names, nil when there is no such key). With `refusingReplays`
    /// (for messages that change something: UPDATE) the same message is
    /// accepted once; a query, transfer or NOTIFY a client retransmits
    /// after a lost reply is answered again.
    public func verify(_ bytes: [UInt8], signed: SignedMessage, credential: TSIGCredential?, refusingReplays: Bool = true) -> Result<TSIGContext, TSIGFailure> {
        let record = signed.record
        func failure(_ error: ResponseCode, _ reason: String, signed context: TSIGContext? = nil) -> Result<TSIGContext, TSIGFailure> {
            .failure(TSIGFailure(error: error, keyName: signed.keyName, record: record, context: context, reason: reason))
        }
        // §5.2.1: the key, and the algorithm it was made for.
        guard let credential, let algorithm = TSIGAlgorithm(name: record.algorithm), algorithm == credential.algorithm else {
            return failure(.badKey, credential == nil ? "no such key" : "key is not for algorithm \(record.algorithm)")
        }
        // §5.2.2.1: a MAC longer than the digest, or truncated below the limit.
        guard record.mac.count <= algorithm.digestLength, record.mac.count >= algorithm.minimumMACLength else {
            return failure(.formErr, "MAC of \(record.mac.count) bytes for \(algorithm)")
        }
        // §5.2.2: the MAC, over as many bytes as the signer kept.
        let message = TSIGDigest.unsigned(bytes, tsigOffset: signed.offset, originalID: record.originalID)
        let expected = algorithm.mac(secret: credential.secret, data: message + TSIGDigest.variables(keyName: signed.keyName, record: record, timersOnly: false))
        guard !expected.isEmpty else {
            return failure(.badSig, "cannot compute an HMAC: \(TSIGAlgorithm.unavailableReason ?? "OpenSSL failed")")
        }
        guard constantTimeEqual(Array(expected.prefix(record.mac.count)), record.mac[...]) else {
            return failure(.badSig, "MAC does not verify")
        }
        let context = TSIGContext(credential: credential, requestMAC: record.mac, timeSigned: record.timeSigned, fudge: record.fudge, originalID: record.originalID)
        // §5.2.3: the time, and no going back for this key.
        let now = clock()
        let window = UInt64(min(record.fudge, maximumFudge))
        let skew = now > record.timeSigned ? now - record.timeSigned : record.timeSigned - now
        guard skew <= window else {
            return failure(.badTime, "signed at \(record.timeSigned), now \(now), fudge \(window)", signed: context)
        }
        // §5.2.4: local policy on truncation.
        guard record.mac.count >= Self.localMinimumMACLength(algorithm) else {
            return failure(.badTrunc, "MAC truncated to \(record.mac.count) bytes", signed: context)
        }
        // The same message again, inside its window: a replay.
        let entry = ReplayCache.Entry(keyName: signed.keyName.lowercased(), mac: record.mac)
        guard !refusingReplays || accepted.withLockedValue({ $0.insert(entry, until: record.timeSigned + window, now: now) }) else {
            return failure(.badTime, "this message was already accepted (a replay)", signed: context)
        }
        return .success(context)
    }

    /// Verifies a response to a request signed with `credential` whose MAC
    /// was `requestMAC` (a client's check; tests and zone-transfer clients).
    /// `priorMAC` instead verifies a later message of a multi-message response.
    public static func verifyResponse(_ bytes: [UInt8], credential: TSIGCredential, requestMAC: [UInt8], timersOnly: Bool = false) -> Result<TSIG, TSIGFormatError> {
        guard let message = try? DNSMessage(decoding: bytes) else { return .failure(TSIGFormatError(reason: "response does not decode")) }
        guard case .success(let found?) = SignedMessage.find(in: message, bytes: bytes) else { return .failure(TSIGFormatError(reason: "response is not signed")) }
        guard found.keyName == credential.name, found.record.algorithm == credential.algorithm.name else {
            return .failure(TSIGFormatError(reason: "response signed with another key"))
        }
        let unsigned = TSIGDigest.unsigned(bytes, tsigOffset: found.offset, originalID: found.record.originalID)
        let input = TSIGSigner.sized(requestMAC) + unsigned + TSIGDigest.variables(keyName: found.keyName, record: found.record, timersOnly: timersOnly)
        let expected = credential.algorithm.mac(secret: credential.secret, data: input)
        guard !found.record.mac.isEmpty, found.record.mac.count <= expected.count,
              constantTimeEqual(Array(expected.prefix(found.record.mac.count)), found.record.mac[...]) else {
            return .failure(TSIGFormatError(reason: "response MAC does not verify"))
        }
        return .success(found.record)
    }
}

/// The MACs of accepted requests whose time window is still open, in
/// arrival order, bounded in size.
struct ReplayCache {
    struct Entry: Hashable {
        var keyName: DNSName
        var mac: [UInt8]
    }

    let capacity: Int
    private var expiry: [Entry: UInt64] = [:]
    private var order: [Entry] = []
    private var head = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Remembers `entry` until `deadline`; false when it is already remembered.
    mutating func insert(_ entry: Entry, until deadline: UInt64, now: UInt64) -> Bool {
        // Forget what has expired, and the oldest beyond the capacity.
        while head < order.count {
            let oldest = order[head]
            if let until = expiry[oldest] {
                guard until < now || expiry.count >= capacity else { break }
                expiry[oldest] = nil
            }
            head += 1
        }
        if head > 4096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        if let until = expiry[entry], until >= now { return false }
        if expiry.updateValue(deadline, forKey: entry) == nil { order.append(entry) }
        return true
    }
}
