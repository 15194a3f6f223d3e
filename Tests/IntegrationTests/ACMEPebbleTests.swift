import CDNSTestSupport
import ACMEClient
import Foundation
import Testing

/// ACMEClient against a real pebble (default 5 % badNonce rejection on),
/// solving dns-01 through cdnsd's httpreq API, validated by pebble over DNS.
@Suite("ACMEClient with pebble", .blocking, .serialized)
struct ACMEPebbleTests {
    /// Publishes through cdnsd's /present and /cleanup with curl.
    struct HTTPReqSolver: DNS01Solver {
        let endpoint: String
        let authorization: String

        func present(name: String, value: String) async throws { try call("present", name, value) }
        func cleanup(name: String, value: String) async throws { try call("cleanup", name, value) }

        func call(_ action: String, _ name: String, _ value: String) throws {
            let response = try Curl.post("\(endpoint)/\(action)", json: "{\"fqdn\":\"\(name)\",\"value\":\"\(value)\"}", headers: ["Authorization: \(authorization)"])
            guard response.status == 200 else { throw TestSetupError("\(action) \(name): \(response)") }
        }
    }

    /// cdnsd with an httpreq credential for every name, and pebble pointed at it.
    struct Setup {
        var cdnsd: ChallengeDaemon
        let pebble: PebbleServer
        let solver: HTTPReqSolver
        let directory: TemporaryDirectory

        init(eab: Bool = false) async throws {
            directory = try TemporaryDirectory()
            cdnsd = try ChallengeDaemon(in: directory)
            try cdnsd.start()
            let added = try cdnsd.command(["credential", "add", "acme", "--allow", "*"])
            let secret = try #require(added.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count))
            let authorization = "Basic " + Data("acme:\(secret)".utf8).base64EncodedString()
            let url = cdnsd.apiURL
            try await waitUntil("credential visible to the daemon", timeout: 30) {
                try Curl.post("\(url)/present", json: "{}", headers: ["Authorization: \(authorization)"]).status == 400
            }
            solver = HTTPReqSolver(endpoint: cdnsd.apiURL, authorization: authorization)
            pebble = try PebbleServer.start(in: directory, dnsPort: cdnsd.dnsPort, eab: eab)
        }

        mutating func stop() {
            pebble.process.stop()
            cdnsd.stop()
            directory.remove()
        }

        func client(_ key: PrivateKey) throws -> ACMEClient {
            try ACMEClient(directoryURL: pebble.directoryURL, accountKey: key, trustRoots: pebble.httpsCA)
        }
    }

    @Test("account creation and lookup, a wildcard order verified by openssl, and a renewal time inside the lifetime",
          .enabled(if: Programs.runnable("pebble", "openssl", "curl")))
    func wildcardOrder() async throws {
        var setup = try await Setup()
        defer { setup.stop() }
        let client = try setup.client(try PrivateKey(generating: .p256))
        do {
            let created = try await client.account(email: "admin@svc.test")
            let found = try await client.account(onlyReturnExisting: true)
            #expect(created == found)
            let steps = StepLog()
            let chain = try await client.issue(names: ["*.svc.test", "svc.test"], certificateKey: try PrivateKey(generating: .rsa2048), solver: setup.solver) {
                steps.append($0)
            }
            let file = try setup.directory.file("chain.pem", chain)
            let verified = try OpenSSL.verify(chain: file, root: try setup.pebble.issuingRoot(in: setup.directory))
            #expect(verified.ok, "\(verified.output)")
            #expect(try OpenSSL.dnsNames(file) == ["*.svc.test", "svc.test"])
            #expect(steps.lines.contains { $0.hasPrefix("published _acme-challenge.svc.test.") })
            let info = try CertificateInfo(pem: chain)
            #expect(info.serialHex == (try OpenSSL.serial(of: file)))
            let renewal = await client.renewalTime(for: chain)
            #expect(renewal > info.notBefore && renewal < info.notAfter)
            // Cleanup left no challenge behind.
            #expect(try setup.cdnsd.txt("_acme-challenge.svc.test.").isEmpty)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    @Test("external account binding: refused without, accepted with pebble's example kid and key", .enabled(if: Programs.runnable("pebble", "curl")))
    func externalAccountBinding() async throws {
        var setup = try await Setup(eab: true)
        defer { setup.stop() }
        let client = try setup.client(try PrivateKey(generating: .p256))
        do {
            await #expect(throws: ACMEError.self) { try await client.account() }
            let url = try await client.account(externalAccountBinding: ("kid-1", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"))
            #expect(url.contains("/my-account/"))
            let wrong = try setup.client(try PrivateKey(generating: .p256))
            await #expect(throws: ACMEError.self) { try await wrong.account(externalAccountBinding: ("kid-1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")) }
            await wrong.shutdown()
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    @Test("20 issuances out of 20 with pebble's nonce rejection on", .enabled(if: Programs.runnable("pebble", "curl")))
    func twentyIssuances() async throws {
        var setup = try await Setup()
        defer { setup.stop() }
        let client = try setup.client(try PrivateKey(generating: .p256))
        var issued = 0
        do {
            for round in 0..<20 {
                let chain = try await client.issue(names: ["host\(round).svc.test"], certificateKey: try PrivateKey(generating: .p256), solver: setup.solver)
                if chain.contains("BEGIN CERTIFICATE") { issued += 1 }
            }
        } catch {
            await client.shutdown()
            throw error
        }
        let retries = await client.badNonceRetries
        await client.shutdown()
        #expect(issued == 20)
        // About 160 signed requests at 5 % rejection: retries did happen.
        #expect(retries > 0)
        print("20 issuances, \(retries) badNonce retries")
    }
}

/// Progress lines collected from `issue`.
final class StepLog: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var collected: [String] = []
    func append(_ line: String) { lock.withLock { collected.append(line) } }
    var lines: [String] { lock.withLock { collected } }
}
