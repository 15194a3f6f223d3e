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
