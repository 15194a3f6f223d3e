import ChallengeAPI
import DNSWire
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import ZoneStore

/// Each hostile request is refused with its status and writes nothing:
/// the store holds no challenge afterwards and DNS serves none.
@Suite("Hostile requests")
struct HostileRequestTests {
    static let xff = HTTPField.Name("X-Forwarded-For")!

    /// Runs `attack` with a registered account (allowfrom as given) and a
    /// credential for `*.team.svc.test`, then checks nothing was written.
    func refused(allowFrom: [String] = [], credentialFrom: [String] = [], trustedProxies: [String] = [],
                 _ attack: @Sendable @escaping (any TestClientProtocol, Registration) async throws -> TestResponse,
                 status: HTTPResponse.Status, code: String) async throws {
        let harness = try await APITestHarness(configuration: APITestHarness.configuration(trustedProxies: trustedProxies))
        try await harness.addCredential("team", secret: "s3cret", allow: ["*.team.svc.test"], from: credentialFrom)
        try await harness.run { client in
            let account = try await client.register(allowFrom: allowFrom)
            let response = try await attack(client, account)
            #expect(response.status == status, "\(response.text)")
            #expect(response.errorCode == code)
            #expect(response.headers[.contentType] == "application/json")
        }
        #expect(await harness.store.challenges().isEmpty)
    }

    @Test("another account's subdomain → 401 forbidden")
    func otherSubdomain() async throws {
        try await refused({ client, account in
            let victim = try await client.register()
            return try await client.update(account, subdomain: victim.subdomain, txt: challengeValue("a"))
        }, status: .unauthorized, code: "forbidden")
    }

    @Test("acme-dns update from outside allowfrom → 401 forbidden")
    func outsideAllowFrom() async throws {
        try await refused(allowFrom: ["10.0.0.0/8"], { client, account in
            try await client.update(account, txt: challengeValue("a"))
        }, status: .unauthorized, code: "forbidden")
    }

    @Test("X-Forwarded-For from an untrusted peer is ignored → 401 forbidden")
    func spoofedForwardedFor() async throws {
        try await refused(allowFrom: ["10.0.0.0/8"], trustedProxies: ["192.0.2.0/24"], { client, account in
            try await client.update(account, txt: challengeValue("a"), headers: [Self.xff: "10.1.2.3"])
        }, status: .unauthorized, code: "forbidden")
    }

    @Test("the same X-Forwarded-For from a trusted proxy is believed")
    func trustedForwardedFor() async throws {
        let harness = try await APITestHarness(configuration: APITestHarness.configuration(trustedProxies: ["127.0.0.0/8"]))
        try await harness.run { client in
            let account = try await client.register(allowFrom: ["10.0.0.0/8"])
            #expect(try await client.update(account, txt: challengeValue("a"), headers: [Self.xff: "10.1.2.3"]).status == .ok)
            #expect(try await client.update(account, txt: challengeValue("b"), headers: [Self.xff: "192.0.2.1"]).status == .unauthorized)
        }
        #expect(await harness.store.challenges().count == 1)
    }

    @Test("httpreq from outside the credential's sources → 403 forbidden_source, also with a spoofed X-Forwarded-For")
    func credentialSource() async throws {
        for headers: HTTPFields in [[:], [Self.xff: "10.1.2.3"]] {
            try await refused(credentialFrom: ["10.0.0.0/8"], { client, _ in
                try await client.httpreq("/present", user: "team", secret: "s3cret",
                                         json: "{\"fqdn\":\"_acme-challenge.team.svc.test.\",\"value\":\"\(challengeValue("a"))\"}", headers: headers)
            }, status: .forbidden, code: "forbidden_source")
        }
    }

    @Test("an fqdn outside the credential's patterns → 403 forbidden_name")
    func outsidePatterns() async throws {
        try await refused({ client, _ in
            try await client.httpreq("/present", user: "team", secret: "s3cret",
                                     json: "{\"fqdn\":\"_acme-challenge.other.test.\",\"value\":\"\(challengeValue("a"))\"}")
        }, status: .forbidden, code: "forbidden_name")
    }

    @Test("an fqdn outside our zones → 400 fqdn_outside_zones")
    func outsideZones() async throws {
        try await refused({ client, _ in
            try await client.httpreq("/present", user: "team", secret: "s3cret",
                                     json: "{\"fqdn\":\"_acme-challenge.team.example.com.\",\"value\":\"\(challengeValue("a"))\"}")
        }, status: .badRequest, code: "fqdn_outside_zones")
    }

    @Test("wrong secret or no basic auth → 401 forbidden")
    func badCredentials() async throws {
        try await refused({ client, _ in
            try await client.httpreq("/present", user: "team", secret: "guess",
                                     json: "{\"fqdn\":\"_acme-challenge.team.svc.test.\",\"value\":\"\(challengeValue("a"))\"}")
        }, status: .unauthorized, code: "forbidden")
        try await refused({ client, _ in
            try await client.post("/present", json: "{\"fqdn\":\"_acme-challenge.team.svc.test.\",\"value\":\"\(challengeValue("a"))\"}")
        }, status: .unauthorized, code: "forbidden")
    }

    @Test("bad JSON → 400 malformed_json_payload on both APIs")
    func badJSON() async throws {
        try await refused({ client, account in
            try await client.post("/update", json: "{\"subdomain\":", headers: [HTTPField.Name("X-Api-User")!: account.username, HTTPField.Name("X-Api-Key")!: account.password])
        }, status: .badRequest, code: "malformed_json_payload")
        try await refused({ client, _ in
            try await client.httpreq("/present", user: "team", secret: "s3cret", json: "[1,2,3]")
        }, status: .badRequest, code: "malformed_json_payload")
    }

    /// 64 times `max_body_size`; 10 MB once took the live test client past
    /// its fixed 20 s timeout in a loaded run.
    @Test("a 1 MB body → 413 body_too_large")
    func hugeBody() async throws {
        let padding = String(repeating: "a", count: 1024 * 1024)
        try await refused({ client, account in
            try await client.update(account, txt: padding)
        }, status: .contentTooLarge, code: "body_too_large")
        try await refused({ client, _ in
            try await client.httpreq("/present", user: "team", secret: "s3cret", json: "{\"fqdn\":\"\(padding)\"}")
        }, status: .contentTooLarge, code: "body_too_large")
    }
}
