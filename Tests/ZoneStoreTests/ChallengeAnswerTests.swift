import DNSWire
import Testing
import ZoneStore

/// How challenge TXT values change the answers around them: a wildcard
/// keeps answering for the name a certificate is being issued for, and
/// negative answers at challenge names are short-lived.
@Suite("Challenge answers")
struct ChallengeAnswerTests {
    static func store(keepWildcards: Bool) async throws -> ZoneRecordStore {
        let store = try await ZoneRecordStore(zones: [LookupTests.zone, LookupTests.second],
                                              challenge: ChallengeSettings(ttl: 60, negativeTTL: 5, keepWildcards: keepWildcards))
        try await store.addChallenge(ChallengeRecord(name: "_acme-challenge.foo.svc.test.", value: "token", owner: "lego", createdAt: 1, expiresAt: .max))
        try await store.addChallenge(ChallengeRecord(name: "_acme-challenge.deep.down.svc.test.", value: "token2", owner: "lego", createdAt: 1, expiresAt: .max))
        return store
    }

    func records(_ rrsets: [AnswerRRset]) -> [String] { rrsets.flatMap(\.records).map(\.description) }

    @Test("keep_wildcards: a name that exists only for its challenge keeps the wildcard answer")
    func wildcardSurvivesAChallenge() async throws {
        let snapshot = try await Self.store(keepWildcards: true).snapshot()
        let foo = snapshot.lookup("foo.svc.test.", type: .a)
        #expect(foo.rcode == .noError && records(foo.answer) == ["foo.svc.test. 300 IN A 10.8.10.252"])
        // Both levels of an empty non-terminal made by a challenge are transparent.
        #expect(records(snapshot.lookup("down.svc.test.", type: .a).answer) == ["down.svc.test. 300 IN A 10.8.10.252"])
        #expect(records(snapshot.lookup("deep.down.svc.test.", type: .a).answer) == ["deep.down.svc.test. 300 IN A 10.8.10.252"])
        // The challenge itself is still served, with the challenge TTL.
        #expect(records(snapshot.lookup("_acme-challenge.foo.svc.test.", type: .txt).answer) == ["_acme-challenge.foo.svc.test. 60 IN TXT \"token\""])
        // An empty non-terminal made by zone records still blocks the wildcard (RFC 4592).
        let ent = snapshot.lookup("ent.svc.test.", type: .a)
        #expect(ent.rcode == .noError && ent.answer.isEmpty)
    }

    @Test("strict (keep_wildcards = false): the challenge's parent is an empty non-terminal, NODATA as RFC 4592 says")
    func strictWildcards() async throws {
        let snapshot = try await Self.store(keepWildcards: false).snapshot()
        let foo = snapshot.lookup("foo.svc.test.", type: .a)
        #expect(foo.rcode == .noError && foo.answer.isEmpty)
        #expect(records(foo.authority).first?.hasPrefix("svc.test. 60 IN SOA") == true)
        #expect(records(snapshot.lookup("_acme-challenge.foo.svc.test.", type: .txt).answer) == ["_acme-challenge.foo.svc.test. 60 IN TXT \"token\""])
    }

    @Test("negative answers at and below _acme-challenge carry an SOA with the short negative TTL", arguments: [true, false])
    func shortNegativeAnswers(keepWildcards: Bool) async throws {
        let snapshot = try await Self.store(keepWildcards: keepWildcards).snapshot()
        // NXDOMAIN in a zone without a wildcard.
        let missing = snapshot.lookup("_acme-challenge.www.second.test.", type: .txt)
        #expect(missing.rcode == .nxDomain)
        let soa = try #require(missing.authority.first?.records.first)
        #expect(soa.ttl == 5)
        guard case .soa(let data) = soa.data else { Issue.record("no SOA in \(missing.authority)"); return }
        #expect(data.minimum == 5)
        // NODATA: the challenge name exists (as a value or by the wildcard) but has no such type.
        let nodata = snapshot.lookup("_acme-challenge.foo.svc.test.", type: .aaaa)
        #expect(nodata.rcode == .noError && nodata.answer.isEmpty && nodata.authority.first?.records.first?.ttl == 5)
        // Below a challenge name.
        #expect(snapshot.lookup("x._acme-challenge.foo.svc.test.", type: .txt).authority.first?.records.first?.ttl == 5)
        // Other names keep the zone's negative TTL.
        let other = snapshot.lookup("nothing.second.test.", type: .a)
        #expect(other.rcode == .nxDomain && other.authority.first?.records.first?.ttl == 300)
        let ent = snapshot.lookup("ent.svc.test.", type: .a)
        #expect(ent.authority.first?.records.first?.ttl == 60)
    }
}

/// The bound on live challenge values at one name.
@Suite("Challenge values per name")
struct ChallengeLimitTests {
    static func value(_ n: Int, at name: DNSName = "_acme-challenge.foo.svc.test.") -> ChallengeRecord {
        ChallengeRecord(name: name, value: "v\(n)", owner: "lego", createdAt: Int64(100 + n), expiresAt: .max)
    }

    func served(_ store: ZoneRecordStore, _ name: DNSName = "_acme-challenge.foo.svc.test.") -> [String] {
        store.snapshot().lookup(name, type: .txt).answer.flatMap(\.records).compactMap { record in
            if case .txt(let txt) = record.data { return String(decoding: txt.strings.joined(), as: UTF8.self) }
            return nil
        }.sorted()
    }

    @Test("a write past max_values_per_name fails with limitReached and changes nothing; the same value again and other names still pass")
    func refusesPastTheLimit() async throws {
        let store = try await ZoneRecordStore(zones: [LookupTests.zone], challenge: ChallengeSettings(maxValuesPerName: 3))
        for n in 1...3 { try await store.addChallenge(Self.value(n)) }
        await #expect(throws: ZoneStoreError.self) { try await store.addChallenge(Self.value(4)) }
        do {
            try await store.addChallenge(Self.value(4))
        } catch {
            #expect(error.code == .limitReached)
            #expect(error.name == "_acme-challenge.foo.svc.test.")
        }
        #expect(served(store) == ["v1", "v2", "v3"])
        try await store.addChallenge(Self.value(2))
        try await store.addChallenge(Self.value(9, at: "_acme-challenge.bar.svc.test."))
        #expect(try await store.removeChallenge(name: "_acme-challenge.foo.svc.test.", value: "v1"))
        try await store.addChallenge(Self.value(4))
        #expect(served(store) == ["v2", "v3", "v4"])
    }

    @Test("a name already past the bound (a lowered setting) may stay or shrink, not grow")
    func pastTheBoundMayShrink() async throws {
        let backend = MemoryBackend()
        let wide = try await ZoneRecordStore(zones: [LookupTests.zone], backend: backend, challenge: ChallengeSettings(maxValuesPerName: 5))
        for n in 1...5 { try await wide.addChallenge(Self.value(n)) }
        let narrow = try await ZoneRecordStore(zones: [LookupTests.zone], backend: backend, challenge: ChallengeSettings(maxValuesPerName: 3))
        try await narrow.addChallenge(Self.value(2))
        await #expect(throws: ZoneStoreError.self) { try await narrow.addChallenge(Self.value(6)) }
        #expect(try await narrow.removeChallenge(name: "_acme-challenge.foo.svc.test.", value: "v1"))
        #expect(served(narrow) == ["v2", "v3", "v4", "v5"])
    }

    @Test("the bound counts bytes too: 255-byte values stop at 60,000 bytes of answer, below the value count")
    func byteBound() async throws {
        let store = try await ZoneRecordStore(zones: [LookupTests.zone], challenge: ChallengeSettings(maxValuesPerName: 1000))
        func long(_ n: Int) -> ChallengeRecord {
            ChallengeRecord(name: "_acme-challenge.foo.svc.test.", value: String(format: "%05d", n) + String(repeating: "x", count: 250),
                            owner: "tsig:k", createdAt: 1, expiresAt: .max)
        }
        // 12 + 255 + 1 bytes each: 223 fit in 60,000.
        for n in 0..<223 { try await store.addChallenge(long(n)) }
        await #expect(throws: ZoneStoreError.self) { try await store.addChallenge(long(223)) }
        let answer = store.snapshot().lookup("_acme-challenge.foo.svc.test.", type: .txt).answer.flatMap(\.records)
        #expect(answer.count == 223)
        let message = DNSMessage(header: DNSHeader(id: 1, flags: [.response]), questions: [Question(name: "_acme-challenge.foo.svc.test.", type: .txt)], answers: answer)
        #expect(try message.encode().count <= 65_535, "the answer fits one message over TCP")
    }

    @Test("evictingOldest makes room with the publisher's own values only")
    func evictsOnlyOwnValues() async throws {
        let store = try await ZoneRecordStore(zones: [LookupTests.zone], challenge: ChallengeSettings(maxValuesPerName: 3))
        for n in 1...2 {
            try await store.addChallenge(ChallengeRecord(name: "_acme-challenge.foo.svc.test.", value: "other\(n)", owner: "tsig:k", createdAt: Int64(n), expiresAt: .max))
        }
        try await store.addChallenge(Self.value(7), evictingOldest: true)
        try await store.addChallenge(Self.value(8), evictingOldest: true)
        #expect(served(store) == ["other1", "other2", "v8"])
    }

    @Test("evictingOldest (acme-dns /update) removes the oldest values to make room, in the same write")
    func evictsTheOldest() async throws {
        let store = try await ZoneRecordStore(zones: [LookupTests.zone], challenge: ChallengeSettings(maxValuesPerName: 3))
        for n in [2, 1, 3] { try await store.addChallenge(Self.value(n), evictingOldest: true) }
        try await store.addChallenge(Self.value(4), evictingOldest: true)
        #expect(served(store) == ["v2", "v3", "v4"], "v1 was published at 101, before v2 (102)")
        try await store.addChallenge(Self.value(3), evictingOldest: true)
        #expect(served(store) == ["v2", "v3", "v4"], "re-publishing a value evicts nothing")
    }
}
