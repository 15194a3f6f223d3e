@testable import DNSServer
import DNSWire
import Logging
import Testing
import ZoneStore

/// AXFR and IXFR through `UpdateHandler` with an in-memory store: ACLs,
/// message packing, TSIG on every message, the journal and its fallbacks.
@Suite("Zone transfer")
struct ZoneTransferUnitTests {
    static let origin: DNSName = "svc.test."
    static let bulk = (0..<3000).map { try! ResourceRecord(presentation: "h\($0).svc.test. 300 TXT \"\(String(repeating: "v", count: 30))\($0)\"") }
    static let zone = ZoneConfiguration(origin: origin, nameservers: ["ns1.svc.test."], admin: "admin.svc.test.", serial: 100,
                                        records: [try! ResourceRecord(presentation: "ns1.svc.test. 300 A 127.0.0.1")] + bulk)
    static let other = ZoneConfiguration(origin: "other.test.", nameservers: ["ns1.svc.test."], admin: "admin.svc.test.")
    static let secret: [UInt8] = Array(repeating: 9, count: 32)
    static let transferKey = TSIGKey(name: "sec1.", algorithm: "hmac-sha256.", secret: secret, transferOnly: true)
    static let otherKey = TSIGKey(name: "other.", algorithm: "hmac-sha256.", secret: secret, allowedNames: ["*"])

    let store: ZoneRecordStore
    let handler: UpdateHandler

    init() async throws {
        store = try await ZoneRecordStore(zones: [Self.zone, Self.other])
        let keys = [Self.transferKey, Self.otherKey]
        handler = UpdateHandler(store: store, keys: { name in keys.first { $0.name == name } },
                                transferPolicies: [Self.origin: TransferPolicy(allow: [IPNetwork("127.0.0.0/8")!], keys: ["sec1."])],
                                logger: Logger(label: "test"))
    }

    func ask(_ type: RRType, zone: DNSName = origin, serial: UInt32? = nil, key: TSIGKey? = transferKey, source: String = "127.0.0.1",
             transport: DNSTransport = .tcp) async throws -> [[UInt8]] {
        let authority = serial.map { [ResourceRecord(name: zone, ttl: 0, data: .soa(SOA(mname: zone, rname: zone, serial: $0, refresh: 0, retry: 0, expire: 0, minimum: 0)))] } ?? []
        var bytes = try DNSMessage(header: DNSHeader(id: 77), questions: [Question(name: zone, type: type)], authority: authority).encode()
        if let key, let credential = UpdateHandler.credential(key) {
            bytes = TSIGSigner(credential: credential).sign(request: bytes, time: UInt64(handler.verifier.now)).message
        }
        return await handler.responses(to: DNSRequest(bytes: bytes, message: try DNSMessage(decoding: bytes), source: IPAddress(source), transport: transport))
    }

    func rcode(_ replies: [[UInt8]]) throws -> ResponseCode? {
        try replies.first.map { try DNSMessage(decoding: $0).header.rcode }
    }

    /// The answer records of every message, after checking each message's
    /// TSIG: the first chains to the request's MAC, the others to the one before.
    func transferred(_ replies: [[UInt8]], signedWith key: TSIGKey?, request: [UInt8]? = nil) throws -> [ResourceRecord] {
        var all: [ResourceRecord] = []
        var prior: [UInt8]? = nil
        for reply in replies {
            let message = try DNSMessage(decoding: reply)
            #expect(message.header.id == 77 && message.header.flags.contains(.authoritative))
            var answers = message.answers
            if let key {
                let signed = try #require(try SignedMessage.find(in: message, bytes: reply).get())
                let unsigned = TSIGDigest.unsigned(reply, tsigOffset: signed.offset, originalID: signed.record.originalID)
                let signer = TSIGSigner(credential: try #require(UpdateHandler.credential(key)), fudge: signed.record.fudge)
                if let last = prior {
                    let again = signer.sign(continuation: unsigned, priorMAC: last, time: signed.record.timeSigned)
                    #expect(again.mac == signed.record.mac, "continuation MAC")
                    prior = again.mac
                } else {
                    prior = signed.record.mac
                }
            } else {
                #expect(!message.additional.contains { $0.type == .tsig })
            }
            answers.removeAll { $0.type == .tsig }
            all += answers
        }
        return all
    }

    @Test("AXFR with the key: SOA first and last, every record once, many messages under 64 KiB, each signed")
    func axfr() async throws {
        let replies = try await ask(.axfr)
        #expect(try rcode(replies) == .noError)
        #expect(replies.count > 1 && replies.allSatisfy { $0.count <= 0xFFFF })
        let records = try transferred(replies, signedWith: Self.transferKey)
        #expect(records.first?.type == .soa && records.last?.type == .soa && records.filter { $0.type == .soa }.count == 2)
        let served: Set<String> = Set(store.snapshot()[Self.origin]!.allRecords.map { "\($0)" })
        let got: Set<String> = Set(records.dropLast().map { "\($0)" })
        #expect(got == served)
        #expect(records.count == served.count + 1)
        #expect(records.count == 3004)  // bulk, ns1 A, apex NS, two SOAs
    }

    @Test("refused: no key when the zone wants one, another key, a source outside allow, a zone without a policy; NOTAUTH off the apex; NOTIMP for AXFR over UDP")
    func refusals() async throws {
        #expect(try rcode(try await ask(.axfr, key: nil)) == .refused)
        #expect(try rcode(try await ask(.axfr, key: Self.otherKey)) == .refused)
        #expect(try rcode(try await ask(.axfr, source: "10.1.1.1")) == .refused)
        #expect(try rcode(try await ask(.axfr, zone: "other.test.")) == .refused)
        #expect(try rcode(try await ask(.axfr, zone: "h1.svc.test.")) == .notAuth)
        #expect(try rcode(try await ask(.axfr, zone: "elsewhere.example.")) == .notAuth)
        #expect(try rcode(try await ask(.axfr, transport: .udp)) == .notImp)
        #expect(try rcode(try await ask(.ixfr, key: nil, transport: .udp)) == .refused)
        let refused = try await ask(.axfr, key: nil)
        #expect(replyCount(refused) == 1)
    }

    func replyCount(_ replies: [[UInt8]]) -> Int { replies.count }

    @Test("IXFR: differences from the journal in RFC 1995 order; SOA only when current; AXFR style when the journal does not reach back; UDP SOA only when too big")
    func ixfr() async throws {
        let start = try #require(store.snapshot()[Self.origin]?.serial)
        try await store.addChallenge(ChallengeRecord(name: "_acme-challenge.a.svc.test.", value: "one", owner: "t", createdAt: 0, expiresAt: Int64.max / 2))
        let middle = try #require(store.snapshot()[Self.origin]?.serial)
        try await store.addChallenge(ChallengeRecord(name: "_acme-challenge.a.svc.test.", value: "two", owner: "t", createdAt: 0, expiresAt: Int64.max / 2))
        _ = try await store.removeChallenge(name: "_acme-challenge.a.svc.test.", value: "one")
        let current = try #require(store.snapshot()[Self.origin]?.serial)
        #expect(SerialNumber.isBefore(start, middle) && SerialNumber.isBefore(middle, current))

        let records = try transferred(try await ask(.ixfr, serial: start), signedWith: Self.transferKey)
        let soaSerials = records.compactMap { record -> UInt32? in if case .soa(let soa) = record.data { soa.serial } else { nil } }
        // current, then (old, new) per delta, then current again.
        #expect(soaSerials.first == current && soaSerials.last == current && soaSerials.count >= 4)
        #expect(soaSerials.dropFirst().dropLast().first == start)
        let txt = records.filter { $0.type == .txt }.compactMap { record -> String? in if case .txt(let t) = record.data { t.joinedText } else { nil } }
        #expect(txt.contains("one") && txt.contains("two"))
        #expect(records.count < 20)

        let fromMiddle = try transferred(try await ask(.ixfr, serial: middle), signedWith: Self.transferKey)
        #expect(fromMiddle.filter { $0.type == .soa }.count >= 4 && fromMiddle.count < records.count)

        let upToDate = try transferred(try await ask(.ixfr, serial: current), signedWith: Self.transferKey)
        #expect(upToDate.count == 1 && upToDate.first?.type == .soa)

        let unknown = try transferred(try await ask(.ixfr, serial: start &- 1000), signedWith: Self.transferKey)
        #expect(unknown.count == 3005)  // the whole zone with the challenge value, AXFR style

        let udp = try await ask(.ixfr, serial: start &- 1000, transport: .udp)
        #expect(udp.count == 1)
        #expect(try transferred(udp, signedWith: Self.transferKey).map(\.type) == [.soa])
        let udpSmall = try await ask(.ixfr, serial: middle, transport: .udp)
        #expect(try transferred(udpSmall, signedWith: Self.transferKey).filter { $0.type == .soa }.count >= 4, "a small IXFR fits in a datagram")
    }

    @Test("NOTIFY to the primary: NOERROR for a zone served, NOTAUTH otherwise")
    func notifyReceived() async throws {
        for (zone, expected) in [(Self.origin, ResponseCode.noError), ("elsewhere.example." as DNSName, .notAuth)] {
            let bytes = try DNSMessage(header: DNSHeader(id: 5, flags: [.authoritative], opcode: .notify), questions: [Question(name: zone, type: .soa)]).encode()
            let reply = try #require(await handler.respond(to: DNSRequest(bytes: bytes, message: try DNSMessage(decoding: bytes), source: IPAddress("127.0.0.1"), transport: .udp)))
            let message = try DNSMessage(decoding: reply)
            #expect(message.header.rcode == expected && message.header.opcode == .notify && message.header.flags.contains(.response))
        }
    }

    @Test("listeners hand over AXFR over TCP, IXFR and NOTIFY; AXFR over UDP is answered at once")
    func deferral() throws {
        func message(_ type: RRType, opcode: Opcode = .query) -> DNSMessage {
            DNSMessage(header: DNSHeader(id: 1, opcode: opcode), questions: [Question(name: Self.origin, type: type)])
        }
        #expect(message(.axfr).needsRequestHandler(transport: .tcp))
        #expect(!message(.axfr).needsRequestHandler(transport: .udp))
        #expect(message(.ixfr).needsRequestHandler(transport: .udp))
        #expect(message(.soa, opcode: .notify).needsRequestHandler(transport: .udp))
        #expect(!message(.soa).needsRequestHandler(transport: .tcp))
    }

    @Test("RFC 1982 serial arithmetic and the policy's address and key rules")
    func serialsAndPolicy() {
        #expect(SerialNumber.isBefore(1, 2) && !SerialNumber.isBefore(2, 1) && !SerialNumber.isBefore(5, 5))
        #expect(SerialNumber.isBefore(UInt32.max, 0) && SerialNumber.isBefore(0xFFFF_FFF0, 10) && !SerialNumber.isBefore(10, 0xFFFF_FFF0))
        let open = TransferPolicy(allow: [IPNetwork("10.0.0.0/8")!])
        #expect(open.permits(source: IPAddress("10.2.3.4"), key: nil) && open.permits(source: IPAddress("10.2.3.4"), key: "any."))
        #expect(!open.permits(source: IPAddress("192.0.2.1"), key: nil) && !open.permits(source: nil, key: nil))
        let keyed = TransferPolicy(allow: [IPNetwork("10.0.0.0/8")!], keys: ["sec1."])
        #expect(keyed.permits(source: IPAddress("10.2.3.4"), key: "sec1.") && !keyed.permits(source: IPAddress("10.2.3.4"), key: nil))
        #expect(!keyed.permits(source: IPAddress("10.2.3.4"), key: "sec2.") && !TransferPolicy(allow: []).permits(source: IPAddress("10.2.3.4"), key: nil))
    }
}
