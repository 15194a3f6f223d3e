import ChallengeAPI
import DNSWire
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import ZoneStore

/// lego's httpreq contract, with credentials scoped by name and source.
@Suite("httpreq API")
struct HTTPReqAPITests {
    @Test("present publishes each value; cleanup removes only the named one")
    func presentAndCleanup() async throws {
        let harness = try await APITestHarness()
        try await harness.addCredential("team", secret: "s3cret", allow: ["*.team.svc.test"], from: ["127.0.0.0/8"])
        try await harness.run { client in
            // A wildcard and its apex: two values at one name, both live.
            for seed in ["p", "q"] as [Character] {
                let response = try await client.httpreq(
                    "/present", user: "team", secret: "s3cret",
                    json: "{\"fqdn\":\"_acme-challenge.team.svc.test.\",\"value\":\"\(challengeValue(seed))\"}\n")
                #expect(response.status == .ok)
            }
            #expect(Set(try await harness.servedTXT("_acme-challenge.team.svc.test.")) == [challengeValue("p"), challengeValue("q")])
            let cleanup = try await client.httpreq(
                "/cleanup", user: "team", secret: "s3cret", json: "{\"fqdn\":\"_acme-challenge.team.svc.test.\",\"value\":\"\(challengeValue("p"))\"}")
            #expect(cleanup.status == .ok)
            #expect(try await harness.servedTXT("_acme-challenge.team.svc.test.") == [challengeValue("q")])
        }
    }

    /// SHA-256("abc") is FIPS 180-2's first example, ba7816bf…15ad; base64url without padding below.
    @Test("RAW mode publishes base64url(SHA-256(keyAuth)) at _acme-challenge.<domain>")
    func rawMode() async throws {
        let harness = try await APITestHarness()
        try await harness.addCredential("team", secret: "s3cret", allow: ["*.team.svc.test"])
        try await harness.run { client in
            let response = try await client.httpreq(
                "/present", user: "team", secret: "s3cret", json: "{\"domain\":\"a.team.svc.test\",\"token\":\"t\",\"keyAuth\":\"abc\"}")
            #expect(response.status == .ok)
        }
        #expect(try await harness.servedTXT("_acme-challenge.a.team.svc.test.") == ["ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"])
    }

    @Test("a pattern *.NAME covers names below NAME and NAME's own challenge; NAME covers only itself")
    func patterns() throws {
        let wildcard = try #require(NamePattern("*.team.svc.dev"))
        #expect(try wildcard.allows(challengeName: DNSName("_acme-challenge.team.svc.dev.")))
        #expect(try wildcard.allows(challengeName: DNSName("_acme-challenge.a.b.team.svc.dev.")))
        #expect(try !wildcard.allows(challengeName: DNSName("_acme-challenge.svc.dev.")))
        #expect(try !wildcard.allows(challengeName: DNSName("_acme-challenge.xteam.svc.dev.")))
        let exact = try #require(NamePattern("host.svc.dev"))
        #expect(try exact.allows(challengeName: DNSName("_ACME-Challenge.HOST.svc.dev.")))
        #expect(try !exact.allows(challengeName: DNSName("_acme-challenge.a.host.svc.dev.")))
        #expect(try NamePattern("*")?.allows(challengeName: DNSName("x.y.")) == true)
        #expect(NamePattern("a..b") == nil)
    }
}
