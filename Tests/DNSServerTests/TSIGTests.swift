@testable import DNSServer
import DNSWire
import Foundation
import Testing

/// TSIG against bytes made by other implementations: nsupdate (BIND 9.18)
/// and knsupdate (Knot 3.2) requests and knotd 3.2's signed responses,
/// captured by `Scripts/capture-tsig-vectors.py` (see Vectors/README.md),
/// and kdig's signed query with knotd's answer from the DNSWire vectors.
@Suite("TSIG")
struct TSIGTests {
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors")

    static func hex(_ path: URL) throws -> [UInt8] {
        let text = try String(contentsOf: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
            .joined().filter { !$0.isWhitespace }
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(try #require(UInt8(text[index..<next], radix: 16)))
            index = next
        }
        return bytes
    }

    static func vector(_ name: String) throws -> [UInt8] { try hex(vectors.appendingPathComponent("\(name).hex")) }

    static func credential(_ name: DNSName, _ algorithm: TSIGAlgorithm, _ secret: String) throws -> TSIGCredential {
        TSIGCredential(name: name, algorithm: algorithm, secret: try #require(Base64.decode(secret)))
    }

    /// The keys the captures were made with.
    static let captures: [(name: String, credential: TSIGCredential)] = [
        ("nsupdate-add", try! credential("nsupdate-key.", .hmacSHA256, "dmVjdG9yLWtleS1mb3ItbnN1cGRhdGUtaG1hYy1zaGEyNTY=")),
        ("knsupdate-delete", try! credential("knsupdate-key.", .hmacSHA512,
                                             "dmVjdG9yLWtleS1mb3Ita25zdXBkYXRlLWhtYWMtc2hhNTEyLXdpdGgtNjQtYnl0ZXMtb2Ytc2VjcmV0ISE=")),
    ]

    static func signed(_ bytes: [UInt8]) throws -> SignedMessage {
        let message = try DNSMessage(decoding: bytes)
        return try #require(try SignedMessage.find(in: message, bytes: bytes).get())
    }

    static func verifier(at time: UInt64) -> TSIGVerifier { TSIGVerifier(clock: { time }) }

    @Test("requests signed by nsupdate (hmac-sha256) and knsupdate (hmac-sha512) verify", arguments: [0, 1])
    func capturedRequestsVerify(_ index: Int) throws {
        let (name, credential) = Self.captures[index]
        let request = try Self.vector("\(name).request")
        let signed = try Self.signed(request)
        #expect(signed.keyName == credential.name)
        let context = try Self.verifier(at: signed.record.timeSigned + 10).verify(request, signed: signed, credential: credential).get()
        #expect(context.requestMAC.count == credential.algorithm.digestLength)
    }

    @Test("knotd's signed responses verify, and our signer reproduces their MACs byte for byte", arguments: [0, 1])
    func knotResponsesMatchOurSigner(_ index: Int) throws {
        let (name, credential) = Self.captures[index]
        let request = try Self.signed(try Self.vector("\(name).request"))
        let responseBytes = try Self.vector("\(name).response")
        let record = try TSIGVerifier.verifyResponse(responseBytes, credential: credential, requestMAC: request.record.mac).get()
        let response = try Self.signed(responseBytes)
        let unsigned = TSIGDigest.unsigned(responseBytes, tsigOffset: response.offset, originalID: record.originalID)
        let ours = TSIGSigner(credential: credential, fudge: record.fudge).sign(response: unsigned, requestMAC: request.record.mac, time: record.timeSigned)
        #expect(ours.mac == record.mac)
        #expect(ours.message == responseBytes)
    }

    @Test("kdig's signed query and knotd's signed answer (DNSWire vectors)")
    func kdigVector() throws {
        let directory = Self.vectors.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("DNSWireTests/Vectors")
        let query = try Self.hex(directory.appendingPathComponent("kdig-tsig.query.hex"))
        let answer = try Self.hex(directory.appendingPathComponent("kdig-tsig.response.hex"))
        let credential = try Self.credential("tsig-key.", .hmacSHA256, "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=")
        let signed = try Self.signed(query)
        let context = try Self.verifier(at: signed.record.timeSigned).verify(query, signed: signed, credential: credential).get()
        _ = try TSIGVerifier.verifyResponse(answer, credential: credential, requestMAC: context.requestMAC).get()
    }

    // MARK: Failures, each with the error RFC 8945 §5.2 prescribes

    static let key = TSIGCredential(name: "test-key.", algorithm: .hmacSHA256, secret: Array(0..<32))
    static let now: UInt64 = 1_800_000_000

    static func request(signedBy credential: TSIGCredential = key, at time: UInt64 = now, id: UInt16 = 7) throws -> [UInt8] {
        let message = try DNSMessage(header: DNSHeader(id: id, opcode: .update), questions: [Question(name: "svc.test.", type: .soa)]).encode()
        return TSIGSigner(credential: credential).sign(request: message, time: time).message
    }

    static func failure(_ bytes: [UInt8], credential: TSIGCredential? = key, verifier: TSIGVerifier = verifier(at: now)) throws -> TSIGFailure {
        let result = verifier.verify(bytes, signed: try signed(bytes), credential: credential)
        guard case .failure(let failure) = result else {
            Issue.record("verified unexpectedly")
            throw TSIGFormatError(reason: "verified")
        }
        return failure
    }

    @Test("unknown key or another algorithm: BADKEY, answered unsigned")
    func badKey() throws {
        let request = try Self.request()
        #expect(try Self.failure(request, credential: nil).error == .badKey)
        var other = Self.key
        other.algorithm = .hmacSHA512
        let failure = try Self.failure(request, credential: other)
        #expect(failure.error == .badKey)
        #expect(failure.context == nil)
    }

    @Test("wrong secret or a changed byte: BADSIG, answered unsigned")
    func badSig() throws {
        var wrong = Self.key
        wrong.secret[0] ^= 1
        #expect(try Self.failure(try Self.request(), credential: wrong).error == .badSig)
        var changed = try Self.request()
        changed[2] ^= 0x01  // the RD bit
        let failure = try Self.failure(changed)
        #expect(failure.error == .badSig)
        #expect(failure.context == nil)
    }

    @Test("outside the fudge: BADTIME, answered signed")
    func badTime() throws {
        let late = try Self.failure(try Self.request(at: Self.now - 301))
        #expect(late.error == .badTime)
        #expect(late.context != nil)
        #expect(try Self.failure(try Self.request(at: Self.now + 301)).error == .badTime)
        #expect(Self.verifier(at: Self.now).verify(try Self.request(at: Self.now - 300), signed: try Self.signed(try Self.request(at: Self.now - 300)), credential: Self.key).isSuccess)
    }

    @Test("a message accepted once is refused when it comes again (BADTIME, signed); concurrent clients' messages may arrive in any order")
    func replay() throws {
        let verifier = Self.verifier(at: Self.now)
        let old = try Self.request(at: Self.now - 10)
        let new = try Self.request(at: Self.now, id: 8)
        #expect(verifier.verify(new, signed: try Self.signed(new), credential: Self.key).isSuccess)
        #expect(verifier.verify(old, signed: try Self.signed(old), credential: Self.key).isSuccess, "older, but not seen before")
        let replayed = try Self.failure(old, verifier: verifier)
        #expect(replayed.error == .badTime && replayed.context != nil)
        #expect(try Self.failure(new, verifier: verifier).error == .badTime)
    }

    @Test("the replay cache forgets the oldest MACs beyond its size, and those whose window closed")
    func replayCacheBounds() throws {
        var cache = ReplayCache(capacity: 3)
        let entries = (0..<4).map { ReplayCache.Entry(keyName: "k.", mac: [UInt8($0)]) }
        let steps: [(entry: Int, until: UInt64, now: UInt64, accepted: Bool, why: String)] = [
            (0, 100, 10, true, "new"),
            (0, 100, 11, false, "seen"),
            (1, 100, 12, true, "new"),
            (2, 100, 13, true, "new"),
            (3, 100, 14, true, "the oldest makes room"),
            (0, 100, 15, true, "forgotten: its place was taken"),
            (3, 100, 16, false, "still remembered"),
            (3, 200, 101, true, "its window closed"),
        ]
        for step in steps {
            let accepted = cache.insert(entries[step.entry], until: step.until, now: step.now)
            #expect(accepted == step.accepted, "\(step.why)")
        }
    }

    /// `request` re-signed with its MAC cut to `length` bytes.
    static func truncated(_ credential: TSIGCredential, to length: Int) throws -> [UInt8] {
        let full = try request(signedBy: credential)
        let found = try signed(full)
        var record = found.record
        record.mac = length > record.mac.count ? record.mac + [0] : Array(record.mac.prefix(length))
        let unsigned = TSIGDigest.unsigned(full, tsigOffset: found.offset, originalID: record.originalID)
        return TSIGDigest.appending(record, keyName: credential.name, to: unsigned)
    }

    @Test("truncated MACs: below RFC 8945's limit FORMERR, below local policy BADTRUNC (signed), otherwise accepted")
    func truncation() throws {
        #expect(try Self.failure(try Self.truncated(Self.key, to: 12)).error == .formErr)
        var sha1 = Self.key
        sha1.algorithm = .hmacSHA1
        let short = try Self.failure(try Self.truncated(sha1, to: 12), credential: sha1)
        #expect(short.error == .badTrunc)
        #expect(short.context != nil)
        var sha512 = Self.key
        sha512.algorithm = .hmacSHA512
        let accepted = try Self.truncated(sha512, to: 40)
        #expect(Self.verifier(at: Self.now).verify(accepted, signed: try Self.signed(accepted), credential: sha512).isSuccess)
        #expect(try Self.failure(try Self.truncated(Self.key, to: 33)).error == .formErr)
    }

    @Test("every algorithm signs and verifies; a TSIG record that is not last is FORMERR")
    func algorithmsAndPlacement() throws {
        for algorithm in TSIGAlgorithm.allCases {
            var credential = Self.key
            credential.algorithm = algorithm
            let request = try Self.request(signedBy: credential)
            #expect(Self.verifier(at: Self.now).verify(request, signed: try Self.signed(request), credential: credential).isSuccess, "\(algorithm)")
        }
        var message = try DNSMessage(decoding: try Self.request())
        message.additional.append(ResourceRecord(name: "x.", ttl: 0, data: .a(IPv4Address(rawValue: 1))))
        let bytes = try message.encode()
        #expect(throws: TSIGFormatError.self) { try SignedMessage.find(in: try DNSMessage(decoding: bytes), bytes: bytes).get() }
    }

    @Test("multi-message responses chain each MAC to the one before (RFC 8945 §5.3.1)")
    func continuation() throws {
        let signer = TSIGSigner(credential: Self.key)
        let first = try DNSMessage(header: DNSHeader(id: 9, flags: [.response])).encode()
        let one = signer.sign(response: first, requestMAC: [1, 2, 3], time: Self.now)
        let two = signer.sign(continuation: first, priorMAC: one.mac, time: Self.now + 1)
        _ = try TSIGVerifier.verifyResponse(one.message, credential: Self.key, requestMAC: [1, 2, 3]).get()
        _ = try TSIGVerifier.verifyResponse(two.message, credential: Self.key, requestMAC: one.mac, timersOnly: true).get()
        #expect(throws: TSIGFormatError.self) { try TSIGVerifier.verifyResponse(two.message, credential: Self.key, requestMAC: one.mac).get() }
    }
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
