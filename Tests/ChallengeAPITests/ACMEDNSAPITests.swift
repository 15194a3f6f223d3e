import ChallengeAPI
import DNSWire
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import ZoneStore

/// The acme-dns contract of `DESIGN.md`, over real HTTP.
@Suite("acme-dns API")
struct ACMEDNSAPITests {
    @Test("register returns 201 with the acme-dns fields; update with lego's capitalised keys publishes every value")
    func registerAndUpdate() async throws {
        let harness = try await APITestHarness()
        try await harness.run { client in
            let account = try await client.register(allowFrom: ["127.0.0.0/8"])
            #expect(account.fulldomain == "\(account.subdomain).svc.test")
            #expect(account.password.count == 40)
            for seed in ["a", "b", "c"] as [Character] {
                let response = try await client.update(account, txt: challengeValue(seed))
                #expect(response.status == .ok)
                #expect(response.text == "{\"txt\":\"\(challengeValue(seed))\"}\n")
            }
            // acme-dns keeps two; every live value is served here.
            let served = try await harness.servedTXT(account.fulldomain + ".")
            #expect(Set(served) == Set(["a", "b", "c"].map { challengeValue(Character($0)) }))
            let stored = harness.store.challenges()
            #expect(stored.allSatisfy { $0.owner == "account:\(account.username)" && $0.expiresAt - $0.createdAt == 600 })
        }
    }

    @Test("register validates allowfrom, and can be turned off")
    func registrationRules() async throws {
        let harness = try await APITestHarness()
        try await harness.run { client in
            let bad = try await client.post("/register", json: "{\"allowfrom\":[\"10.0.0.0/33\"]}")
            #expect(bad.status == .badRequest)
            #expect(bad.errorCode == "invalid_allowfrom_cidr")
            let notList = try await client.post("/register", json: "{\"allowfrom\":\"10.0.0.0/8\"}")
            #expect(notList.errorCode == "invalid_allowfrom_cidr")
            let empty = try await client.execute(uri: "/register", method: .post)
            #expect(empty.status == .created)
        }
        let closed = try await APITestHarness(configuration: APITestHarness.configuration(registration: false))
        try await closed.run { client in
            let response = try await client.post("/register", json: "{}")
            #expect(response.status == .forbidden)
            #expect(response.errorCode == "registration_disabled")
        }
        #expect(await closed.store.accounts().isEmpty)
    }

    @Test("CORS: configured origins get the allow headers and a 204 preflight; others get none")
    func cors() async throws {
        let harness = try await APITestHarness(configuration: APITestHarness.configuration(corsOrigins: ["https://ui.svc.test"]))
        try await harness.run { client in
            let preflight = try await client.execute(uri: "/update", method: .options, headers: [
                .origin: "https://ui.svc.test", .accessControlRequestMethod: "POST",
            ])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://ui.svc.test")
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("X-Api-Key") == true)
            let allowed = try await client.execute(uri: "/health", method: .get, headers: [.origin: "https://ui.svc.test"])
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://ui.svc.test")
            let other = try await client.execute(uri: "/health", method: .get, headers: [.origin: "https://evil.example"])
            #expect(other.status == .ok)
            #expect(other.headers[.accessControlAllowOrigin] == nil)
        }
    }

    /// Test vector from openwall's crypt_blowfish (wrapper.c tests): "U*U"
    /// hashes to this `$2a$` string; acme-dns (Go's bcrypt) writes `$2a$`.
    @Test("an account imported from acme-dns with a $2a$ hash authenticates")
    func importedHash() async throws {
        let harness = try await APITestHarness()
        try await harness.store.putAccount(Account(
            username: "imported", passwordHash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            subdomain: "d420c923-bbd7-4056-ab64-c3ca54c9b3cf", allowFrom: []))
        try await harness.run { client in
            var account = Registration(username: "imported", password: "U*U", subdomain: "d420c923-bbd7-4056-ab64-c3ca54c9b3cf", fulldomain: "")
            let accepted = try await client.update(account, txt: challengeValue("x"))
            #expect(accepted.status == .ok)
            account.password = "U*V"
            let refused = try await client.update(account, txt: challengeValue("y"))
            #expect(refused.status == .unauthorized)
        }
        #expect(try await harness.servedTXT("d420c923-bbd7-4056-ab64-c3ca54c9b3cf.svc.test.") == [challengeValue("x")])
    }

    @Test("bad values get 400 with acme-dns's codes; /health answers")
    func badValues() async throws {
        let harness = try await APITestHarness()
        try await harness.run { client in
            let account = try await client.register()
            let short = try await client.update(account, txt: "tooshort")
            #expect(short.status == .badRequest)
            #expect(short.errorCode == "bad_txt")
            let quote = try await client.update(account, txt: String(repeating: "a", count: 42) + "!")
            #expect(quote.errorCode == "bad_txt")
            let subdomain = try await client.update(account, subdomain: "no.dots", txt: challengeValue("a"))
            #expect(subdomain.status == .badRequest)
            #expect(subdomain.errorCode == "bad_subdomain")
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
            let missing = try await client.execute(uri: "/nothing", method: .get)
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "not_found")
        }
        #expect(await harness.store.challenges().isEmpty)
    }
}
