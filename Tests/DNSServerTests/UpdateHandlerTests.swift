@testable import DNSServer
import DNSWire
import Logging
import Synchronization
import Testing
import ZoneStore

/// RFC 2136 processing through `UpdateHandler` with an in-memory store:
/// every rcode the RFC names, the key's scope, and what reaches the store.
@Suite("UPDATE")
struct UpdateHandlerTests {
    static let zone = ZoneConfiguration(
        origin: "svc.test.", nameservers: ["ns1.svc.test."], admin: "admin.svc.test.", ttl: 3600, negativeTTL: 60,
        records: [
            "ns1.svc.test. 300 A 127.0.0.1",
            "www.svc.test. 300 A 10.8.10.1",
            "_acme-challenge.static.svc.test. 300 TXT \"configured\"",
        ].map { try! ResourceRecord(presentation: $0) })

    static let secret: [UInt8] = Array(repeating: 7, count: 32)
    static let challengeKey = TSIGKey(name: "acme.", algorithm: "hmac-sha256.", secret: secret, allowedNames: ["*.svc.test"])
    static let narrowKey = TSIGKey(name: "narrow.", algorithm: "hmac-sha256.", secret: secret, allowedNames: ["one.svc.test"])
    static let hostsKey = TSIGKey(name: "hosts.", algorithm: "hmac-sha256.", secret: secret, allowedNames: ["*.hosts.svc.test"],
                                  allowedTypes: [.a, .aaaa, .cname, .txt], challengeNamesOnly: false)
    static let fromElsewhere = TSIGKey(name: "remote.", algorithm: "hmac-sha256.", secret: secret, allowedNames: ["*"], allowedSources: ["10.0.0.0/8"])

    static let md5Key = TSIGKey(name: "legacy.", algorithm: "hmac-md5.sig-alg.reg.int.", secret: secret, allowedNames: ["*.svc.test"])
    static let md5Allowed = TSIGKey(name: "legacy-ok.", algorithm: "hmac-md5.sig-alg.reg.int.", secret: secret, allowedNames: ["*.svc.test"], allowMD5: true)

    static let ids = Atomic<UInt16>(0)

    let store: ZoneRecordStore
    let handler: UpdateHandler

    init() async throws {
        try await self.init(challenge: ChallengeSettings())
    }

    init(challenge: ChallengeSettings) async throws {
        store = try await ZoneRecordStore(zones: [Self.zone], challenge: challenge)
        let keys = [Self.challengeKey, Self.narrowKey, Self.hostsKey, Self.fromElsewhere, Self.md5Key, Self.md5Allowed]
        handler = UpdateHandler(store: store, keys: { name in keys.first { $0.name == name } }, logger: Logger(label: "test"))
    }

    /// A record in presentation form; `NAME 0 ANY TYPE` (no data) for RFC 2136's empty class ANY and NONE records.
    static func record(_ text: String) -> ResourceRecord {
        let fields = text.split(separator: " ")
        if fields.count == 4, let rrClass = RRClass(mnemonic: fields[2]), rrClass == .any || rrClass == .none, let type = RRType(mnemonic: fields[3]) {
            return ResourceRecord(name: try! DNSName(String(fields[0])), class: rrClass, ttl: UInt32(fields[1])!, data: .opaque(type, []))
        }
        return try! ResourceRecord(presentation: text)
    }

    /// Sends one UPDATE for svc.test (signed by `key` unless nil) and returns the rcode.
    func send(prerequisites: [ResourceRecord] = [], updates: [ResourceRecord], key: TSIGKey? = challengeKey, zone: DNSName = "svc.test.",
              zoneType: RRType = .soa, source: String = "127.0.0.1") async throws -> ResponseCode {
        // Every message differs (its ID): the same message twice would be a replay.
        let id = Self.ids.add(1, ordering: .relaxed).newValue
        var bytes = try DNSMessage(header: DNSHeader(id: id, opcode: .update), questions: [Question(name: zone, type: zoneType)],
                                   answers: prerequisites, authority: updates).encode()
        var credential: TSIGCredential? = nil
        if let key {
            let algorithm = try #require(TSIGAlgorithm(name: key.algorithm))
            credential = UpdateHandler.credential(key)
            let signing = credential ?? TSIGCredential(name: key.name, algorithm: algorithm, secret: key.secret)
            bytes = TSIGSigner(credential: signing).sign(request: bytes, time: UInt64(handler.verifier.now)).message
        }
        let reply = try #require(await handler.respond(to: DNSRequest(bytes: bytes, message: try DNSMessage(decoding: bytes), source: IPAddress(source), transport: .udp)))
        let response = try DNSMessage(decoding: reply)
        #expect(response.header.id == id)
        if credential != nil {
            #expect(response.additional.last?.type == .tsig, "a reply to a verified request is signed")
        }
        return response.header.rcode
    }

    func txt(_ name: DNSName) async -> [String] {
        store.challenges().filter { $0.name == name }.map(\.value).sorted()
    }

    static let challenge: DNSName = "_acme-challenge.a.svc.test."

    @Test("add, add, delete one value, delete the RRset")
    func challengeLifecycle() async throws {
        #expect(try await send(updates: [Self.record("_acme-challenge.a.svc.test. 60 TXT \"one\"")]) == .noError)
        #expect(try await send(updates: [Self.record("_acme-challenge.a.svc.test. 60 TXT \"two\"")]) == .noError)
        #expect(await txt(Self.challenge) == ["one", "two"])
        #expect(await store.challenges().first?.owner == "tsig:acme")
        #expect(await store.snapshot().lookup(Self.challenge, type: .txt).answer.first?.records.count == 2)
        #expect(try await send(updates: [Self.record("_acme-challenge.a.svc.test. 0 NONE TXT \"one\"")]) == .noError)
        #expect(await txt(Self.challenge) == ["two"])
        #expect(try await send(updates: [Self.record("_acme-challenge.a.svc.test. 0 ANY TXT")]) == .noError)
        #expect(await txt(Self.challenge) == [])
        #expect(try await send(updates: [Self.record("_acme-challenge.a.svc.test. 60 TXT \"three\""), Self.record("_acme-challenge.a.svc.test. 0 ANY ANY")]) == .noError)
        #expect(await txt(Self.challenge) == [])
    }

    @Test("a value from UPDATE expires after the challenge lifetime, like one from the API")
    func challengeExpiry() async throws {
        #expect(try await send(updates: [Self.record("_acme-challenge.a.svc.test. 60 TXT \"e\"")]) == .noError)
        let first = try #require(store.challenges().first)
        #expect(first.expiresAt - first.createdAt == 3600, "UpdateHandler's default lifetime, [challenge] expire_after in the daemon")
        #expect(try await store.removeExpiredChallenges(now: first.expiresAt - 1) == 0)
        #expect(try await store.removeExpiredChallenges(now: first.expiresAt) == 1)
        #expect(await txt(Self.challenge) == [])
        #expect(store.snapshot().lookup(Self.challenge, type: .txt).answer.isEmpty)
    }

    @Test("an UPDATE that would pass max_values_per_name is REFUSED as a whole; one that also deletes enough passes")
    func valuesPerName() async throws {
        let limited = try await UpdateHandlerTests(challenge: ChallengeSettings(maxValuesPerName: 2))
        #expect(try await limited.send(updates: [Self.record("_acme-challenge.a.svc.test. 60 TXT \"one\""),
                                                 Self.record("_acme-challenge.a.svc.test. 60 TXT \"two\"")]) == .noError)
        #expect(try await limited.send(updates: [Self.record("_acme-challenge.b.svc.test. 60 TXT \"other\""),
                                                 Self.record("_acme-challenge.a.svc.test. 60 TXT \"three\"")]) == .refused)
        #expect(await limited.txt(Self.challenge) == ["one", "two"])
        #expect(await limited.txt("_acme-challenge.b.svc.test.") == [], "all or nothing")
        #expect(try await limited.send(updates: [Self.record("_acme-challenge.a.svc.test. 60 TXT \"three\""),
                                                 Self.record("_acme-challenge.a.svc.test. 0 NONE TXT \"one\"")]) == .noError)
        #expect(await limited.txt(Self.challenge) == ["three", "two"])
    }

    @Test("prerequisites: each of the five forms, met and not met")
    func prerequisites() async throws {
        let add = [Self.record("_acme-challenge.a.svc.test. 60 TXT \"p\"")]
        #expect(try await send(prerequisites: [Self.record("www.svc.test. 0 ANY ANY")], updates: add) == .noError)
        #expect(try await send(prerequisites: [Self.record("nothere.svc.test. 0 ANY ANY")], updates: add) == .nxDomain)
        #expect(try await send(prerequisites: [Self.record("www.svc.test. 0 ANY A")], updates: add) == .noError)
        #expect(try await send(prerequisites: [Self.record("www.svc.test. 0 ANY AAAA")], updates: add) == .nxRRset)
        #expect(try await send(prerequisites: [Self.record("www.svc.test. 0 NONE ANY")], updates: add) == .yxDomain)
        #expect(try await send(prerequisites: [Self.record("nothere.svc.test. 0 NONE ANY")], updates: add) == .noError)
        #expect(try await send(prerequisites: [Self.record("www.svc.test. 0 NONE A")], updates: add) == .yxRRset)
        #expect(try await send(prerequisites: [Self.record("www.svc.test. 0 IN A 10.8.10.1")], updates: add) == .noError)
        #expect(try await send(prerequisites: [Self.record("www.svc.test. 0 IN A 10.8.10.2")], updates: add) == .nxRRset)
        #expect(try await send(prerequisites: [Self.record("www.other.test. 0 ANY ANY")], updates: add) == .notZone)
        #expect(try await send(prerequisites: [Self.record("www.svc.test. 5 ANY ANY")], updates: add) == .formErr)
    }

    @Test("a failed prerequisite changes nothing")
    func atomic() async throws {
        let rcode = try await send(prerequisites: [Self.record("www.svc.test. 0 NONE ANY")],
                                   updates: [Self.record("_acme-challenge.a.svc.test. 60 TXT \"never\"")])
        #expect(rcode == .yxDomain)
        #expect(await txt(Self.challenge) == [])
    }

    @Test("zone section, class rules and out-of-zone names")
    func formAndZone() async throws {
        let add = [Self.record("_acme-challenge.a.svc.test. 60 TXT \"z\"")]
        #expect(try await send(updates: add, zone: "other.test.") == .notAuth)
        #expect(try await send(updates: add, zoneType: .a) == .formErr)
        #expect(try await send(updates: [Self.record("_acme-challenge.a.other.test. 60 TXT \"z\"")]) == .notZone)
        #expect(try await send(updates: [Self.record("_acme-challenge.a.svc.test. 60 CH TXT \"z\"")]) == .formErr)
        #expect(try await send(updates: [Self.record("_acme-challenge.a.svc.test. 60 ANY TXT")]) == .formErr)
        #expect(try await send(updates: [Self.record("_acme-challenge.a.svc.test. 60 NONE TXT \"z\"")]) == .formErr)
        #expect(await txt(Self.challenge) == [])
    }

    @Test("scope: unsigned, other names, other types, SOA, apex NS, sources")
    func scope() async throws {
        let add = [Self.record("_acme-challenge.a.svc.test. 60 TXT \"s\"")]
        #expect(try await send(updates: add, key: nil) == .refused)
        #expect(try await send(updates: add, key: Self.narrowKey) == .refused)
        #expect(try await send(updates: [Self.record("_acme-challenge.one.svc.test. 60 TXT \"s\"")], key: Self.narrowKey) == .noError)
        #expect(try await send(updates: [Self.record("a.svc.test. 60 TXT \"s\"")]) == .refused)
        #expect(try await send(updates: [Self.record("_acme-challenge.a.svc.test. 60 A 10.0.0.1")]) == .refused)
        #expect(try await send(updates: [Self.record("svc.test. 0 ANY SOA")], key: Self.hostsKey) == .refused)
        #expect(try await send(updates: [Self.record("svc.test. 60 NS ns9.svc.test.")], key: Self.hostsKey) == .refused)
        #expect(try await send(updates: [Self.record("_acme-challenge.static.svc.test. 0 NONE TXT \"configured\"")]) == .noError)
        #expect(try await send(updates: add, key: Self.fromElsewhere) == .refused)
        #expect(try await send(updates: add, key: Self.fromElsewhere, source: "10.1.2.3") == .noError)
        #expect(await store.snapshot().lookup("_acme-challenge.static.svc.test.", type: .txt).answer.count == 1)
    }

    @Test("a widened key adds and deletes permanent records; CNAME never joins other data")
    func widenedKey() async throws {
        #expect(try await send(updates: [Self.record("db.hosts.svc.test. 120 A 10.0.0.5")], key: Self.hostsKey) == .noError)
        #expect(await store.snapshot().lookup("db.hosts.svc.test.", type: .a).answer.first?.records.first?.ttl == 120)
        #expect(try await send(updates: [Self.record("db.hosts.svc.test. 120 CNAME www.svc.test.")], key: Self.hostsKey) == .noError)
        #expect(await store.snapshot().lookup("db.hosts.svc.test.", type: .cname).answer.isEmpty)
        #expect(try await send(updates: [Self.record("db.hosts.svc.test. 0 ANY ANY")], key: Self.hostsKey) == .noError)
        #expect(await store.snapshot().lookup("db.hosts.svc.test.", type: .a).rcode == .nxDomain)
        #expect(try await send(updates: [Self.record("www.svc.test. 0 ANY A")], key: Self.hostsKey) == .refused)
    }

    @Test("hmac-md5: BADKEY unless the key enables it")
    func md5() async throws {
        let add = [Self.record("_acme-challenge.a.svc.test. 60 TXT \"md5\"")]
        #expect(try await send(updates: add, key: Self.md5Key) == .notAuth)
        #expect(await txt(Self.challenge) == [])
        #expect(try await send(updates: add, key: Self.md5Allowed) == .noError)
        #expect(await txt(Self.challenge) == ["md5"])
    }

    /// Records every snapshot the DNS server would serve.
    actor Snapshots: SnapshotSubscriber {
        var seen: [ZoneSnapshot] = []
        func apply(_ snapshot: ZoneSnapshot) async { seen.append(snapshot) }
    }

    @Test("an UPDATE with a prerequisite racing HTTP API writes is all or nothing: checked and applied in one commit")
    func raceWithAPIWrites() async throws {
        let snapshots = Snapshots()
        await store.subscribe(snapshots)
        var outcomes: [ResponseCode: Int] = [:]
        for round in 0..<150 {
            let guarded = try DNSName("_acme-challenge.n\(round).svc.test.")
            let first = try DNSName("_acme-challenge.m\(round).svc.test.")
            let second = try DNSName("_acme-challenge.k\(round).svc.test.")
            // The UPDATE: "no TXT at n yet" (else YXRRSET), then a value at m and at k.
            async let rcode = send(prerequisites: [Self.record("\(guarded) 0 NONE TXT")],
                                   updates: [Self.record("\(first) 60 TXT \"u\""), Self.record("\(second) 60 TXT \"u\"")])
            // The HTTP API's write (ChallengeAPI calls exactly this): a value at n.
            async let apiSawUpdate = apiWrite(at: guarded, then: first, after: round % 7)
            let (code, sawUpdate) = try await (rcode, apiSawUpdate)
            outcomes[code, default: 0] += 1
            let served = await (txt(first), txt(second), txt(guarded))
            #expect(served.2 == ["h"], "round \(round): the API's value is kept")
            switch code {
            case .noError:
                // The prerequisite held at commit time, so the commit came before the API's value.
                #expect(sawUpdate, "round \(round): NOERROR although the API's value was there first")
                #expect(served.0 == ["u"] && served.1 == ["u"], "round \(round)")
            case .yxRRset:
                #expect(served.0 == [] && served.1 == [], "round \(round): a refused UPDATE changed something")
            default:
                Issue.record("round \(round): \(code)")
            }
        }
        // No served snapshot ever held one half of an UPDATE.
        for snapshot in await snapshots.seen {
            for round in 0..<150 {
                let halves = try ["m", "k"].map { label in
                    snapshot.lookup(try DNSName("_acme-challenge.\(label)\(round).svc.test."), type: .txt).answer.first?.records.isEmpty == false
                }
                #expect(halves[0] == halves[1], "round \(round): a snapshot served half an UPDATE")
            }
        }
        print("UPDATE racing API writes: \(outcomes.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")); \(await snapshots.seen.count) snapshots checked")
    }

    /// Publishes a value at `name` as the HTTP API does, after `yields`
    /// turns of the scheduler; returns whether `probe` already held a value
    /// when the write was acknowledged (acknowledged means served).
    func apiWrite(at name: DNSName, then probe: DNSName, after yields: Int) async throws -> Bool {
        for _ in 0..<yields { await Task.yield() }
        try await store.addChallenge(ChallengeRecord(name: name, value: "h", owner: "api", createdAt: 0, expiresAt: .max))
        return store.snapshot().lookup(probe, type: .txt).answer.first?.records.isEmpty == false
    }

    @Test("a signed query gets a signed answer; other opcodes NOTIMP")
    func signedQuery() async throws {
        let credential = try #require(UpdateHandler.credential(Self.challengeKey))
        let query = try DNSMessage(header: DNSHeader(id: 5), questions: [Question(name: "www.svc.test.", type: .a)]).encode()
        let signed = TSIGSigner(credential: credential).sign(request: query, time: handler.verifier.now)
        let reply = try #require(await handler.respond(to: DNSRequest(bytes: signed.message, message: try DNSMessage(decoding: signed.message), source: nil, transport: .udp)))
        _ = try TSIGVerifier.verifyResponse(reply, credential: credential, requestMAC: signed.mac).get()
        #expect(try DNSMessage(decoding: reply).answers.count == 1)
    }
}
