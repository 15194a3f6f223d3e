import DNSWire
import Logging
import Metrics
import ZoneStore

/// Who may transfer one zone: the `transfer = { allow = [...], keys = [...] }`
/// table of a `[[zone]]`. A zone without one refuses every transfer.
public struct TransferPolicy: Sendable, Hashable {
    /// Source addresses a transfer may come from.
    public var allow: [IPNetwork]
    /// When not empty, a transfer must also be signed with one of these TSIG keys.
    public var keys: [DNSName]

    public init(allow: [IPNetwork], keys: [DNSName] = []) {
        self.allow = allow
        self.keys = keys
    }

    /// Whether a transfer from `source`, signed (and verified) with `key`, is allowed.
    public func permits(source: IPAddress?, key: DNSName?) -> Bool {
        guard let source, allow.contains(source) else { return false }
        guard !keys.isEmpty else { return true }
        guard let key else { return false }
        return keys.contains(key)
    }
}

/// RFC 1982 serial number arithmetic.
public enum SerialNumber {
    /// Whether `a` is before `b` (undefined pairs, 2^31 apart, count as not before).
    public static func isBefore(_ a: UInt32, _ b: UInt32) -> Bool {
        a != b && ((a < b && b &- a < 1 << 31) || (a > b && a &- b > 1 << 31))
    }
}

/// What a transfer request was answered with, for logs and metrics.
enum TransferKind: String, Sendable {
    case axfr
    /// IXFR answered with the differences from the journal.
    case ixfr
    /// IXFR whose serial the journal does not reach: the whole zone, AXFR style.
    case ixfrAsAXFR = "ixfr_axfr"
    /// IXFR from a client that is current, or over UDP when the answer does
    /// not fit: the SOA only.
    case ixfrSOA = "ixfr_soa"
}

/// Builds the messages of AXFR (RFC 5936) and IXFR (RFC 1995) answers from
/// one snapshot, so that a write landing mid-transfer never tears it.
struct ZoneTransferBuilder {
    let query: DNSMessage
    let question: Question
    let zone: ZoneIndex
    /// Bytes each message may take (a TSIG record is added after).
    let maxSize: Int

    /// The SOA, every record, the SOA again.
    func axfrRecords() -> [ResourceRecord] {
        var records = zone.allRecords
        records.append(zone.soa)
        return records
    }

    /// The IXFR difference sequence from `clientSerial` to the zone's serial,
    /// or nil when `journal` does not chain from one to the other.
    func ixfrRecords(from clientSerial: UInt32, journal: [ZoneDelta]) -> (records: [ResourceRecord], deltas: Int)? {
        let current = zone.serial
        guard let start = journal.firstIndex(where: { $0.fromSerial == clientSerial }) else { return nil }
        var records = [zone.soa]
        var serial = clientSerial
        var used = 0
        for delta in journal[start...] {
            guard delta.fromSerial == serial, delta.removed.first?.type == .soa, delta.added.first?.type == .soa else { return nil }
            records += delta.removed
            records += delta.added
            serial = delta.toSerial
            used += 1
            if serial == current { break }
        }
        guard serial == current else { return nil }
        records.append(zone.soa)
        return (records, used)
    }

    /// `records` packed into as few messages as fit, in order; nil when one
    /// record alone does not fit or `single` is set and they need more than one.
    func messages(_ records: [ResourceRecord], single: Bool = false) -> [[UInt8]]? {
        var header = DNSHeader(id: query.header.id, flags: [.response, .authoritative], opcode: .query)
        header.flags.formUnion(query.header.flags.intersection([.recursionDesired, .checkingDisabled]))
        var messages: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: maxSize)
        let done: Bool = buffer.withUnsafeMutableBytes { raw in
            do {
                var writer = DNSMessageWriter(buffer: raw, maxSize: maxSize)
                try writer.writeHeader(header)
                try writer.append(question)
                var inMessage = 0
                for record in records {
                    if try writer.append(record, to: .answer) {
                        inMessage += 1
                        continue
                    }
                    guard inMessage > 0, !single else { return false }
                    let length = try writer.finish()
                    messages.append(Array(raw[0..<length]))
                    writer = DNSMessageWriter(buffer: raw, maxSize: maxSize)
                    try writer.writeHeader(header)
                    try writer.append(question)
                    guard try writer.append(record, to: .answer) else { return false }
                    inMessage = 1
                }
                let length = try writer.finish()
                messages.append(Array(raw[0..<length]))
                return true
            } catch {
                return false
            }
        }
        return done ? messages : nil
    }
}

extension UpdateHandler {
    // MARK: Zone transfer

    /// AXFR or IXFR: checked against the zone's `TransferPolicy`, answered
    /// from one snapshot (and the journal for IXFR), every message signed
    /// when the request was (RFC 8945 §5.3.1).
    func transfer(_ request: DNSRequest, key: TSIGKey?, context: TSIGContext?) async -> [[UInt8]] {
        let message = request.message
        guard message.questions.count == 1 else { return reply(to: message, rcode: .formErr, context: context).map { [$0] } ?? [] }
        let question = message.questions[0]
        let source = request.source?.description ?? "?"
        func fail(_ rcode: ResponseCode, _ reason: String) -> [[UInt8]] {
            Self.countTransfer(kind: rcode.description)
            logger.notice("zone transfer refused", metadata: [
                "zone": "\(question.name)", "type": "\(question.type)", "rcode": "\(rcode)", "reason": "\(reason)",
                "source": "\(source)", "key": "\(key?.name.description ?? "-")", "transport": "\(request.transport)",
            ])
            return reply(to: message, rcode: rcode, context: context).map { [$0] } ?? []
        }
        if question.type == .axfr && request.transport == .udp { return fail(.notImp, "AXFR over UDP") }
        guard question.qClass == .in else { return fail(.refused, "class \(question.qClass)") }
        let snapshot = store.snapshot()
        guard let zone = snapshot[question.name] else {
            return fail(.notAuth, "not a zone apex served here")
        }
        guard let policy = transferPolicies[zone.origin] else { return fail(.refused, "the zone has no transfer table") }
        if let key, !UpdateScope(key).allows(source: request.source) { return fail(.refused, "source address not allowed for this key") }
        guard policy.permits(source: request.source, key: key?.name) else {
            return fail(.refused, key == nil && !policy.keys.isEmpty ? "unsigned; the zone wants a key" : "source or key not allowed")
        }

        let reserve = context.map { TSIGDigest.recordLength(keyName: $0.credential.name, algorithm: $0.credential.algorithm, otherData: 0) } ?? 0
        var maxSize = 0xFFFF
        if request.transport == .udp {
            maxSize = message.edns.map { Int(min(max($0.udpPayloadSize, 512), responder.maxUDPPayload)) } ?? 512
        }
        let builder = ZoneTransferBuilder(query: message, question: question, zone: zone, maxSize: maxSize - reserve)
        var kind = TransferKind.axfr
        var records: [ResourceRecord]
        var fromSerial: UInt32? = nil
        var deltas = 0
        var messages: [[UInt8]]? = nil
        if question.type == .ixfr {
            guard let clientSOA = message.authority.first, case .soa(let soa) = clientSOA.data else {
                return fail(.formErr, "IXFR without the client's SOA in the authority section")
            }
            fromSerial = soa.serial
            if !SerialNumber.isBefore(soa.serial, zone.serial) {
                kind = .ixfrSOA
                records = [zone.soa]
            } else {
                let journal = (try? await store.journal(origin: zone.origin, since: soa.serial)) ?? []
                Gauge(label: "cdnsd_journal_entries_sent", dimensions: [("zone", zone.origin.presentationWithoutDot)]).record(journal.count)
                if let found = builder.ixfrRecords(from: soa.serial, journal: journal) {
                    kind = .ixfr
                    records = found.records
                    deltas = found.deltas
                } else if request.transport == .udp {
                    kind = .ixfrSOA
                    records = [zone.soa]
                } else {
                    kind = .ixfrAsAXFR
                    records = builder.axfrRecords()
                }
            }
            if request.transport == .udp {
                messages = builder.messages(records, single: true)
                if messages == nil {
                    // RFC 1995 §2: what does not fit in one datagram is
                    // answered with the SOA, and the client retries over TCP.
                    kind = .ixfrSOA
                    records = [zone.soa]
                }
            }
        } else {
            records = builder.axfrRecords()
        }
        if messages == nil { messages = builder.messages(records) }
        guard var messages else { return fail(.servFail, "a record does not fit in a message") }

        if let context {
            let now = verifier.now
            var prior = context.requestMAC
            for index in messages.indices {
                let signed = index == 0
                    ? context.signer.sign(response: messages[index], requestMAC: prior, time: now)
                    : context.signer.sign(continuation: messages[index], priorMAC: prior, time: now)
                messages[index] = signed.message
                prior = signed.mac
            }
        }
        Self.countTransfer(kind: kind.rawValue)
        var metadata: Logger.Metadata = [
            "zone": "\(zone.origin)", "kind": "\(kind.rawValue)", "serial": "\(zone.serial)", "records": "\(records.count)",
            "messages": "\(messages.count)", "source": "\(source)", "key": "\(key?.name.description ?? "-")", "transport": "\(request.transport)",
        ]
        if let fromSerial { metadata["from_serial"] = "\(fromSerial)" }
        if kind == .ixfr { metadata["deltas"] = "\(deltas)" }
        logger.info("zone transfer", metadata: metadata)
        return messages
    }

    /// A NOTIFY sent to us (we are the primary): acknowledged for a zone we
    /// serve, NOTAUTH for any other.
    func notifyReply(_ request: DNSRequest, context: TSIGContext?) -> [UInt8]? {
        let message = request.message
        guard message.questions.count == 1 else { return reply(to: message, rcode: .formErr, context: context) }
        let served = store.snapshot()[message.questions[0].name] != nil
        logger.debug("NOTIFY received", metadata: ["zone": "\(message.questions[0].name)", "source": "\(request.source?.description ?? "?")", "served": "\(served)"])
        return reply(to: message, rcode: served ? .noError : .notAuth, context: context, authoritative: served)
    }

    /// `cdnsd_dns_transfers_total{kind}`: axfr, ixfr, ixfr_axfr, ixfr_soa, or the rcode of a refused one.
    static func countTransfer(kind: String) {
        Counter(label: "cdnsd_dns_transfers_total", dimensions: [("kind", kind)]).increment()
    }
}
