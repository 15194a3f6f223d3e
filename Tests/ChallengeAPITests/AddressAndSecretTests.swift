import ChallengeAPI
import HTTPTypes
import Testing
import ZoneStore

@Suite("Client addresses and secrets")
struct AddressAndSecretTests {
    @Test("CIDR blocks match by prefix, per family; bad blocks do not parse")
    func networks() throws {
        let ten = try #require(IPNetwork("10.0.0.0/8"))
        #expect(ten.contains(try #require(IPAddress("10.255.0.1"))))
        #expect(!ten.contains(try #require(IPAddress("11.0.0.1"))))
        #expect(ten.contains(try #require(IPAddress("::ffff:10.1.2.3"))), "IPv4-mapped peers are IPv4")
        #expect(!ten.contains(try #require(IPAddress("::a01:203"))))
        let host = try #require(IPNetwork("192.168.1.5/24"))
        #expect(host.contains(try #require(IPAddress("192.168.1.200"))))
        let v6 = try #require(IPNetwork("fd00::/8"))
        #expect(v6.contains(try #require(IPAddress("fd12:3456::1"))))
        #expect(!v6.contains(try #require(IPAddress("fe80::1"))))
        #expect(IPNetwork("0.0.0.0/0")?.contains(try #require(IPAddress("8.8.8.8"))) == true)
        for bad in ["10.0.0.0/33", "10.0.0/8", "::/129", "10.0.0.0/", "10.0.0.0/+8", "x", ""] {
            #expect(IPNetwork(bad) == nil, "\(bad)")
        }
    }

    @Test("X-Forwarded-For is read only through trusted proxies, from the right")
    func forwardedFor() throws {
        let resolver = ClientAddressResolver(trustedProxies: [try #require(IPNetwork("127.0.0.0/8")), try #require(IPNetwork("10.9.0.0/16"))])
        let xff = HTTPField.Name("X-Forwarded-For")!
        let loopback = try #require(IPAddress("127.0.0.1"))
        let outsider = try #require(IPAddress("192.0.2.7"))
        #expect(try resolver.client(peer: outsider, headers: [xff: "10.1.2.3"]) == outsider)
        #expect(try resolver.client(peer: loopback, headers: [:]) == loopback)
        #expect(try resolver.client(peer: loopback, headers: [xff: "10.1.2.3"]) == IPAddress("10.1.2.3"))
        // A client-supplied entry left of the first untrusted hop is not believed.
        #expect(try resolver.client(peer: loopback, headers: [xff: "10.66.6.6, 198.51.100.4, 10.9.1.1"]) == IPAddress("198.51.100.4"))
        #expect(throws: APIError.self) { try resolver.client(peer: loopback, headers: [xff: "junk"]) }
    }

    @Test("a verified secret is cached against the hash it matched; failures never are")
    func secretCache() async throws {
        let verifier = SecretVerifier()
        let hash = try await SecretGenerator.hash("right", cost: 4)
        #expect(await verifier.verify(user: "u", secret: "right", hash: hash))
        #expect(verifier.cachedCount == 1)
        #expect(await verifier.verify(user: "u", secret: "right", hash: hash))
        #expect(!(await verifier.verify(user: "u", secret: "wrong", hash: hash)))
        #expect(verifier.cachedCount == 1)
        // The old secret against the hash the store holds after a rotation fails,
        // although the cache remembers it against the old hash.
        let rotated = try await SecretGenerator.hash("new", cost: 4)
        #expect(!(await verifier.verify(user: "u", secret: "right", hash: rotated)))
        #expect(await verifier.verify(user: "u", secret: "new", hash: rotated))
        #expect(verifier.cachedCount == 2)
    }
}
