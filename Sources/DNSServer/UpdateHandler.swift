import DNSWire
import Logging
import Metrics
import ZoneStore

/// The `DNSRequestHandler` of cdnsd: verifies TSIG on every signed
/// message, answers signed queries with signed responses, and applies
/// RFC 2136 UPDATEs signed by a key whose scope covers them.
///
/// Challenge TXT values go through the store's challenge API (several live
/// values per name, expiring after `challengeLifetime`), other records a
/// widened key may change through its record API. Every reply is sent only
/// once the change is durable and served.
public struct UpdateHandler: DNSRequestHandler {
    /// Finds a key by name: the store's, or one from the configuration.
    public typealias KeyLookup = @Sendable (DNSName) async -> TSIGKey?

    let store: ZoneRecordStore
    let keys: KeyLookup
    let verifier: TSIGVerifier
    let responder: QueryResponder
    let challengeLifetime: Int64
    let configured: Set<RRsetKey>
    let logger: Logger
    let gate = UpdateGate()

    /// - Parameters:
    ///   - zones: the configured zones, whose file records UPDATE leaves alone.
    ///   - challengeLifetime: seconds until a published challenge value expires.
    public init(store: ZoneRecordStore, keys: @escaping KeyLookup, verifier: TSIGVerifier = TSIGVerifier(), zones: [ZoneConfiguration] = [],
                challengeLifetime: Int64 = 3600, maxUDPPayload: UInt16 = 1232, logger: Logger) {
        self.store = store
        self.keys = keys
        self.verifier = verifier
        self.responder = QueryResponder(maxUDPPayload: maxUDPPayload)
        self.challengeLifetime = challengeLifetime
        var configured: Set<RRsetKey> = []
        for zone in zones {
            for record in zone.records { configured.insert(RRsetKey(name: record.name, type: record.type)) }
        }
        self.configured = configured
        self.logger = logger
    }

    public func respond(to request: DNSRequest) async -> [UInt8]? {
        let message = request.message
        let signed: SignedMessage?
        switch SignedMessage.find(in: message, bytes: request.bytes) {
        case .failure(let error):
            Self.countTSIGFailure("FORMERR")
            logger.info("malformed TSIG", metadata: ["source": "\(request.source?.description ?? "?")", "reason": "\(error.reason)"])
            return reply(to: message, rcode: .formErr, context: nil)
        case .success(let found):
            signed = found
        }
        var key: TSIGKey? = nil
        var context: TSIGContext? = nil
        if let signed {
            key = await keys(signed.keyName)
            let credential = key.flatMap(Self.credential)
            switch verifier.verify(request.bytes, signed: signed, credential: credential) {
            case .failure(let failure):
                Self.countTSIGFailure(failure.error.description)
                if message.header.opcode == .update { Self.countUpdate(outcome: failure.error == .formErr ? "FORMERR" : "NOTAUTH", key: nil) }
                logger.notice("TSIG verification failed", metadata: [
                    "key": "\(failure.keyName)", "error": "\(failure.error)", "reason": "\(failure.reason)",
                    "source": "\(request.source?.description ?? "?")", "opcode": "\(message.header.opcode)",
                ])
                return errorReply(to: message, failure: failure)
            case .success(let verified):
                context = verified
                if verified.credential.algorithm.isWeak {
                    logger.warning("TSIG key uses a weak algorithm", metadata: ["key": "\(signed.keyName)", "algorithm": "\(verified.credential.algorithm)"])
                }
            }
        }
        switch message.header.opcode {
        case .update:
            return await update(request, key: key, context: context)
        case .query:
            return await query(request, context: context)
        default:
            return reply(to: message, rcode: .notImp, context: context)
        }
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

        // Updates that only add or remove single challenge values commute;
        // anything whose outcome depends on what is there runs alone.
        let exclusive = !message.answers.isEmpty || message.authority.contains { record in
            !(DynamicUpdate.isChallenge(record.name, record.type) && (record.rrClass == .in || record.rrClass == .none))
        }
        await gate.acquire(exclusive: exclusive)
        let (rcode, plan, reason) = await apply(message, scope: scope, key: key)
        await gate.release(exclusive: exclusive)

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

    /// Plans the update against the current zone and applies it.
    func apply(_ message: DNSMessage, scope: UpdateScope, key: TSIGKey) async -> (ResponseCode, UpdatePlan?, String?) {
        let snapshot = store.snapshot()
        let touched = Set(message.authority.filter { DynamicUpdate.isChallenge($0.name, $0.type) || $0.type == .any }.map(\.name))
        var challenges: [DNSName: [String]] = [:]
        if !touched.isEmpty {
            for challenge in store.challenges() where touched.contains(challenge.name) {
                challenges[challenge.name, default: []].append(challenge.value)
            }
        }
        let update = DynamicUpdate(message: message, snapshot: snapshot, challenges: challenges, scope: scope, configured: configured)
        let plan: UpdatePlan
        switch update.plan() {
        case .failure(let refusal): return (refusal.rcode, nil, refusal.reason)
        case .success(let planned): plan = planned
        }
        let now = Int64(verifier.now)
        let owner = "tsig:\(key.name.presentationWithoutDot)"
        let lifetime = challengeLifetime
        let store = store
        do {
            // Concurrent writes join one group commit of the store.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for add in plan.addChallenges {
                    group.addTask {
                        try await store.addChallenge(ChallengeRecord(name: add.name, value: add.value, owner: owner, createdAt: now, expiresAt: now + lifetime))
                    }
                }
                for remove in plan.removeChallenges {
                    group.addTask { _ = try await store.removeChallenge(name: remove.name, value: remove.value) }
                }
                for (rrset, records) in plan.replaceRRsets {
                    group.addTask { try await store.replaceRRset(name: rrset.name, type: rrset.type, with: records) }
                }
                try await group.waitForAll()
            }
        } catch {
            logger.error("UPDATE could not be stored", metadata: ["key": "\(key.name)", "error": "\(error)"])
            return (.servFail, plan, "\(error)")
        }
        return (.noError, plan, nil)
    }

    // MARK: Replies

    /// A reply carrying the request's zone or question section, signed when `context` is set.
    func reply(to message: DNSMessage, rcode: ResponseCode, context: TSIGContext?) -> [UInt8]? {
        let header = DNSHeader(id: message.header.id, flags: [.response], opcode: message.header.opcode, rcode: rcode)
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

    /// The signing material of a stored key; nil for an algorithm TSIG does not know.
    static func credential(_ key: TSIGKey) -> TSIGCredential? {
        guard let algorithm = TSIGAlgorithm(name: key.algorithm) else { return nil }
        return TSIGCredential(name: key.name, algorithm: algorithm, secret: key.secret)
    }

    /// `cdnsd_dns_updates_total{outcome, key}`; unverified keys count as "-"
    /// so that a stranger cannot mint label values.
    static func countUpdate(outcome: String, key: DNSName?) {
        Counter(label: "cdnsd_dns_updates_total", dimensions: [("outcome", outcome), ("key", key?.presentationWithoutDot ?? "-")]).increment()
    }

    /// `cdnsd_tsig_failures_total{error}`.
    static func countTSIGFailure(_ error: String) {
        Counter(label: "cdnsd_tsig_failures_total", dimensions: [("error", error)]).increment()
    }
}

/// Lets updates that commute run together and the others alone, first
/// come first served.
actor UpdateGate {
    private var shared = 0
    private var exclusive = false
    private var waiters: [(exclusive: Bool, continuation: CheckedContinuation<Void, Never>)] = []

    func acquire(exclusive wantsExclusive: Bool) async {
        if waiters.isEmpty && canEnter(wantsExclusive) {
            enter(wantsExclusive)
            return
        }
        await withCheckedContinuation { waiters.append((wantsExclusive, $0)) }
    }

    func release(exclusive wasExclusive: Bool) {
        if wasExclusive { exclusive = false } else { shared -= 1 }
        while let first = waiters.first, canEnter(first.exclusive) {
            waiters.removeFirst()
            enter(first.exclusive)
            first.continuation.resume()
        }
    }

    private func canEnter(_ wantsExclusive: Bool) -> Bool {
        wantsExclusive ? !exclusive && shared == 0 : !exclusive
    }

    private func enter(_ wantsExclusive: Bool) {
        if wantsExclusive { exclusive = true } else { shared += 1 }
    }
}
