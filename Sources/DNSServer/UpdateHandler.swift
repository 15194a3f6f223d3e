import DNSWire
import Logging
import Metrics
import NIOConcurrencyHelpers
import ZoneStore

/// The `DNSRequestHandler` of cdnsd: verifies TSIG on every signed
/// message, answers signed queries with signed responses, applies
/// RFC 2136 UPDATEs signed by a key whose scope covers them, serves zone
/// transfers (AXFR, IXFR) to the sources and keys each zone's
/// `TransferPolicy` allows, and acknowledges NOTIFY.
///
/// One UPDATE is one store `write`: its prerequisites are checked and its
/// changes planned against the store's contents at commit time, so the
/// message is applied all or nothing, with no other write (another UPDATE,
/// the HTTP API, another replica) between its checks and its changes.
/// Challenge TXT values are stored as challenges (several live values per
/// name, expiring after `challengeLifetime`), other records a widened key
/// may change as runtime records. Every reply is sent only once the change
/// is durable and served.
public struct UpdateHandler: DNSRequestHandler {
    /// Finds a key by name: the store's, or one from the configuration.
    public typealias KeyLookup = @Sendable (DNSName) async -> TSIGKey?

    let store: ZoneRecordStore
    let keys: KeyLookup
    let verifier: TSIGVerifier
    let responder: QueryResponder
    let challengeLifetime: Int64
    let logger: Logger
    /// Zones without an entry refuse every transfer.
    let transferPolicies: [DNSName: TransferPolicy]

    /// - Parameters:
    ///   - challengeLifetime: seconds until a published challenge value expires.
    public init(store: ZoneRecordStore, keys: @escaping KeyLookup, verifier: TSIGVerifier = TSIGVerifier(),
                challengeLifetime: Int64 = 3600, maxUDPPayload: UInt16 = 1232, transferPolicies: [DNSName: TransferPolicy] = [:], logger: Logger) {
        self.transferPolicies = transferPolicies
        self.store = store
        self.keys = keys
        self.verifier = verifier
        self.responder = QueryResponder(maxUDPPayload: maxUDPPayload)
        self.challengeLifetime = challengeLifetime
        self.logger = logger
    }

    public func respond(to request: DNSRequest) async -> [UInt8]? {
        await responses(to: request).first
    }

    public func responses(to request: DNSRequest) async -> [[UInt8]] {
        let message = request.message
        let signed: SignedMessage?
        switch SignedMessage.find(in: message, bytes: request.bytes) {
        case .failure(let error):
            Self.countTSIGFailure("FORMERR")
            logger.info("malformed TSIG", metadata: ["source": "\(request.source?.description ?? "?")", "reason": "\(error.reason)"])
            return reply(to: message, rcode: .formErr, context: nil).map { [$0] } ?? []
        case .success(let found):
            signed = found
        }
        var key: TSIGKey? = nil
        var context: TSIGContext? = nil
        if let signed {
            key = await keys(signed.keyName)
            let verified: Result<TSIGContext, TSIGFailure>
            if let key, TSIGAlgorithm(name: key.algorithm) == .hmacMD5, !key.allowMD5 {
                verified = .failure(TSIGFailure(error: .badKey, keyName: signed.keyName, record: signed.record, context: nil,
                                                reason: "hmac-md5 is not enabled for this key"))
            } else {
                verified = verifier.verify(request.bytes, signed: signed, credential: key.flatMap(Self.credential),
                                           refusingReplays: message.header.opcode == .update)
            }
            switch verified {
            case .failure(let failure):
                Self.countTSIGFailure(Self.tsigErrorName(failure.error))
                if message.header.opcode == .update { Self.countUpdate(outcome: failure.error == .formErr ? "FORMERR" : "NOTAUTH", key: nil) }
                logger.notice("TSIG verification failed", metadata: [
                    "key": "\(failure.keyName)", "error": "\(Self.tsigErrorName(failure.error))", "reason": "\(failure.reason)",
                    "source": "\(request.source?.description ?? "?")", "opcode": "\(message.header.opcode)",
                ])
                return errorReply(to: message, failure: failure).map { [$0] } ?? []
            case .success(let verified):
                context = verified
                if verified.credential.algorithm.isWeak {
                    logger.warning("TSIG key uses a weak algorithm", metadata: ["key": "\(signed.keyName)", "algorithm": "\(verified.credential.algorithm)"])
                }
            }
        }
        let single: [UInt8]?
        switch message.header.opcode {
        case .update:
            let started = ContinuousClock.now
            single = await update(request, key: key, context: context)
            Metrics.Timer(label: Self.durationMetric).record(duration: ContinuousClock.now - started)
        case .query where message.questions.first?.type == .axfr || message.questions.first?.type == .ixfr:
            return await transfer(request, key: key, context: context)
        case .query:
            single = await query(request, context: context)
        case .notify:
            single = notifyReply(request, context: context)
        default:
            single = reply(to: message, rcode: .notImp, context: context)
        }
        return single.map { [$0] } ?? []
    }

    // MARK: Queries

    /// A signed query: answered from the snapshot like any other, then signed.
    func query(_ request: DNSRequest, context: TSIGContext?) async -> [UInt8]? {
        let snapshot = store.snapshot()
        var scratch = Answer(rcode: .noError, authoritative: true)
        let reserve = context.map { TSIGDigest.recordLength(keyName: $0.credential.name, algorithm: $0.credential.algorithm, otherData: 0) } ?? 0
        var output = [UInt8](repeating: 0, count: responder.bufferSize(for: request.transport))
        let length = output.withUnsafeMutableBytes { raw in
            responder.answer(request.message, snapshot: snapshot, transport: request.transport, into: raw, result: &scratch, reserving: reserve)
        }
        guard let length else { return nil }
        let bytes = Array(output[0..<length])
        guard let context else { return bytes }
        return context.signer.sign(response: bytes, requestMAC: context.requestMAC, time: verifier.now).message
    }

    // MARK: Updates

    func update(_ request: DNSRequest, key: TSIGKey?, context: TSIGContext?) async -> [UInt8]? {
        let message = request.message
        let zone = message.questions.first.map { "\($0.name)" } ?? "?"
        guard let key, let context else {
            Self.countUpdate(outcome: "REFUSED", key: nil)
            logger.notice("unsigned UPDATE refused", metadata: ["zone": "\(zone)", "source": "\(request.source?.description ?? "?")"])
            return reply(to: message, rcode: .refused, context: nil)
        }
        let scope = UpdateScope(key)
        func refuse(_ reason: String) -> [UInt8]? {
            Self.countUpdate(outcome: "REFUSED", key: key.name)
            logger.notice("UPDATE refused", metadata: ["key": "\(key.name)", "zone": "\(zone)", "reason": "\(reason)", "source": "\(request.source?.description ?? "?")"])
            return reply(to: message, rcode: .refused, context: context)
        }
        guard !scope.transferOnly else { return refuse("key is for zone transfers only") }
        guard scope.allows(source: request.source) else { return refuse("source address not allowed for this key") }

        let (rcode, plan, reason) = await apply(message, scope: scope, key: key)

        Self.countUpdate(outcome: rcode.description, key: key.name)
        var metadata: Logger.Metadata = [
            "key": "\(key.name)", "zone": "\(zone)", "outcome": "\(rcode)", "source": "\(request.source?.description ?? "?")",
            "transport": "\(request.transport)",
        ]
        if let plan {
            metadata["names"] = "\(plan.names.map(\.description).joined(separator: ","))"
            metadata["added"] = "\(plan.addChallenges.count)"
            metadata["removed"] = "\(plan.removeChallenges.count)"
            if !plan.replaceRRsets.isEmpty { metadata["rrsets"] = "\(plan.replaceRRsets.count)" }
        }
        if let reason { metadata["reason"] = "\(reason)" }
        logger.info("UPDATE", metadata: metadata)
        return reply(to: message, rcode: rcode, context: context)
    }

    /// Plans the update against the store's contents at commit time and
    /// commits its changes in the same write: one message, one commit.
    func apply(_ message: DNSMessage, scope: UpdateScope, key: TSIGKey) async -> (ResponseCode, UpdatePlan?, String?) {
        let update = DynamicUpdate(message: message, scope: scope)
        let now = Int64(verifier.now)
        let owner = "tsig:\(key.name.presentationWithoutDot)"
        let lifetime = challengeLifetime
        // What the last evaluation decided, for the log (a write the
        // backend refuses is planned again on top of the other writer's).
        let outcome = NIOLockedValueBox<(plan: UpdatePlan?, reason: String?)>((nil, nil))
        let rcode: Int
        do {
            rcode = try await store.write { view throws(ZoneStoreError) in
                switch update.plan(in: view) {
                case .failure(let refusal):
                    outcome.withLockedValue { $0 = (nil, refusal.reason) }
                    return ([], Int(refusal.rcode.rawValue))
                case .success(let plan):
                    outcome.withLockedValue { $0 = (plan, nil) }
                    return (plan.operations(in: view, owner: owner, now: now, lifetime: lifetime), Int(ResponseCode.noError.rawValue))
                }
            }
        } catch where error.code == .limitReached {
            return (.refused, nil, error.detail)
        } catch {
            logger.error("UPDATE could not be stored", metadata: ["key": "\(key.name)", "error": "\(error)"])
            return (.servFail, outcome.withLockedValue { $0.plan }, "\(error)")
        }
        let decided = outcome.withLockedValue { $0 }
        return (ResponseCode(rawValue: UInt16(truncatingIfNeeded: rcode)), decided.plan, decided.reason)
    }

    // MARK: Replies

    /// A reply carrying the request's zone or question section, signed when `context` is set.
    func reply(to message: DNSMessage, rcode: ResponseCode, context: TSIGContext?, authoritative: Bool = false) -> [UInt8]? {
        let header = DNSHeader(id: message.header.id, flags: authoritative ? [.response, .authoritative] : [.response], opcode: message.header.opcode, rcode: rcode)
        let response = DNSMessage(header: header, questions: message.questions.count == 1 ? message.questions : [])
        guard let bytes = try? response.encode() else { return nil }
        guard let context else { return bytes }
        return context.signer.sign(response: bytes, requestMAC: context.requestMAC, time: verifier.now).message
    }

    /// NOTAUTH with the TSIG error (RFC 8945 §5.3.2): unsigned for BADKEY
    /// and BADSIG, signed for BADTIME (with the server's time in Other
    /// Data) and BADTRUNC; a plain FORMERR for a malformed TSIG.
    func errorReply(to message: DNSMessage, failure: TSIGFailure) -> [UInt8]? {
        guard failure.error != .formErr else { return reply(to: message, rcode: .formErr, context: nil) }
        let header = DNSHeader(id: message.header.id, flags: [.response], opcode: message.header.opcode, rcode: .notAuth)
        guard let bytes = try? DNSMessage(header: header, questions: message.questions.count == 1 ? message.questions : []).encode() else { return nil }
        if let context = failure.context {
            let now = verifier.now
            let badTime = failure.error == .badTime
            return context.signer.sign(response: bytes, requestMAC: context.requestMAC, time: badTime ? failure.record.timeSigned : now,
                                       error: failure.error, otherData: badTime ? TSIGDigest.time48(now) : []).message
        }
        let record = TSIG(algorithm: failure.record.algorithm, timeSigned: failure.record.timeSigned, fudge: failure.record.fudge, mac: [],
                          originalID: failure.record.originalID, error: failure.error, otherData: [])
        return TSIGDigest.appending(record, keyName: failure.keyName, to: bytes)
    }

    // MARK: Keys and metrics

    /// The signing material of a stored key; nil for an algorithm TSIG does
    /// not know, and for hmac-md5 unless the key enables it.
    public static func credential(_ key: TSIGKey) -> TSIGCredential? {
        guard let algorithm = TSIGAlgorithm(name: key.algorithm), algorithm != .hmacMD5 || key.allowMD5 else { return nil }
        return TSIGCredential(name: key.name, algorithm: algorithm, secret: key.secret)
    }

    /// `cdnsd_dns_update_duration_seconds`: an UPDATE whose TSIG (if any)
    /// verified, from its checks to its reply, the store's commit included.
    public static let durationMetric = "cdnsd_dns_update_duration_seconds"

    /// `cdnsd_dns_updates_total{outcome, key}`; unverified keys count as "-"
    /// so that a stranger cannot mint label values.
    static func countUpdate(outcome: String, key: DNSName?) {
        Counter(label: "cdnsd_dns_updates_total", dimensions: [("outcome", outcome), ("key", key?.presentationWithoutDot ?? "-")]).increment()
    }

    /// A TSIG error's name: BADSIG shares its value with BADVERS.
    static func tsigErrorName(_ error: ResponseCode) -> String {
        error == .badSig ? "BADSIG" : error.description
    }

    /// `cdnsd_tsig_failures_total{error}`.
    static func countTSIGFailure(_ error: String) {
        Counter(label: "cdnsd_tsig_failures_total", dimensions: [("error", error)]).increment()
    }
}

