import CDNSTestSupport
import DNSWire
import Foundation
import Synchronization
import Testing

/// Certificates for `*.svc.test` + `svc.test` (and a second zone) from a
/// real pebble that validates dns-01 against cdnsd, with unmodified lego
/// and certbot publishing through cdnsd's API. Each chain is verified with
/// openssl against the root pebble issued under in that run.
@Suite("End-to-end issuance with pebble", .blocking, .serialized)
struct ChallengeEndToEndTests {
    /// Debian's certbot run by the Python of a venv holding PyPI's
    /// certbot-dns-acmedns (Scripts/test.sh makes it).
    static var certbotPython: String? { ProcessInfo.processInfo.environment["CDNS_CERTBOT_PYTHON"] }
    static var certbotReady: Bool { Programs.required || (certbotPython != nil && Programs.runnable("pebble", "certbot", "openssl", "curl")) }

    @Test("(a) lego --dns httpreq with basic auth, credential added while cdnsd runs", .enabled(if: Programs.runnable("pebble", "lego", "openssl", "curl")))
    func legoHTTPReq() async throws {
        let lego = try Programs.require("lego")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        try cdnsd.start()
        defer { cdnsd.stop() }
        let pebble = try PebbleServer.start(in: directory, dnsPort: cdnsd.dnsPort)
        defer { pebble.process.stop() }

        let secret = try await Self.addLegoCredential(cdnsd, ["--allow", "*.svc.test", "--from", "127.0.0.0/8"])
        let listed = try cdnsd.command(["credential", "list"])
        #expect(listed.output.contains("lego\tallow=*.svc.test\tfrom=127.0.0.0/8"))

        let run = try Self.runLego(lego, domains: ["*.svc.test", "svc.test"], secret: secret, cdnsd: cdnsd, pebble: pebble, in: directory)
        #expect(run.status == 0, "\(run.output)\n\(cdnsd.process?.output ?? "")")
        let chain = directory.url.appendingPathComponent("lego/certificates/_.svc.test.crt").path
        try expectIssued(chain: chain, names: ["*.svc.test", "svc.test"], pebble: pebble, in: directory)
        // lego cleaned up through /cleanup: nothing left at the challenge name.
        #expect(try cdnsd.txt("_acme-challenge.svc.test.").isEmpty)
    }

    @Test("(d) while lego issues foo.svc.test, foo.svc.test A keeps the wildcard's answer (keep_wildcards, the default)",
          .enabled(if: Programs.runnable("pebble", "lego", "openssl", "curl")))
    func wildcardAnswersDuringIssuance() async throws {
        let lego = try Programs.require("lego")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        try cdnsd.start()
        defer { cdnsd.stop() }
        let pebble = try PebbleServer.start(in: directory, dnsPort: cdnsd.dnsPort)
        defer { pebble.process.stop() }
        let secret = try await Self.addLegoCredential(cdnsd, ["--allow", "foo.svc.test"])

        // Ask for foo.svc.test A and for its challenge TXT every 20 ms while lego runs.
        let port = cdnsd.dnsPort
        let query = try DNSMessage(header: DNSHeader(id: 9), questions: [Question(name: "foo.svc.test.", type: .a)]).encode()
        @Sendable func describe(_ reply: DNSMessage?) -> String {
            reply.map { "\($0.header.rcode) " + $0.answers.map(\.description).joined(separator: " | ") } ?? "no reply"
        }
        let wildcard = describe(try DNSMessage(decoding: TestDNSClient.udp(query, port: port)))
        #expect(wildcard.hasSuffix("IN A 10.8.10.252"), "\(wildcard)")
        let running = Mutex(true)
        // On a thread of its own: this test blocks a cooperative thread in
        // ManagedProcess.run, and parallel tests may hold the others.
        let observed = Mutex<(answers: [String], whileLive: Int)>(([], 0))
        let finished = DispatchSemaphore(value: 0)
        let observer = Thread {
            while running.withLock({ $0 }) {
                let live = !((try? TestDNSClient.txtValues("_acme-challenge.foo.svc.test.", port: port)) ?? []).isEmpty
                let answer = describe(try? DNSMessage(decoding: TestDNSClient.udp(query, port: port)))
                observed.withLock {
                    $0.answers.append(answer)
                    if live { $0.whileLive += 1 }
                }
                usleep(20_000)
            }
            finished.signal()
        }
        observer.start()
        let run = try Self.runLego(lego, domains: ["foo.svc.test"], secret: secret, cdnsd: cdnsd, pebble: pebble, in: directory)
        running.withLock { $0 = false }
        finished.wait()
        let (answers, whileLive) = observed.withLock { $0 }
        #expect(run.status == 0, "\(run.output)")
        #expect(whileLive > 0, "the loop never saw the challenge live; it proves nothing")
        #expect(answers.allSatisfy { $0 == wildcard }, "\(Set(answers))")
        #expect(answers.count > 10)
    }

    /// Adds the httpreq credential `lego` with `scope` through the CLI while
    /// the daemon runs, and waits until the daemon takes it; returns its secret.
    static func addLegoCredential(_ cdnsd: ChallengeDaemon, _ scope: [String]) async throws -> String {
        let added = try cdnsd.command(["credential", "add", "lego"] + scope)
        #expect(added.status == 0, "\(added.output)")
        let secret = String(try #require(added.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count)))
        // The running daemon notices the new credential within a second or two.
        try await waitUntil("credential visible to the daemon", timeout: 30) {
            try Curl.post("\(cdnsd.apiURL)/present", json: "{}", headers: ["Authorization: Basic " + Data("lego:\(secret)".utf8).base64EncodedString()]).status == 400
        }
        return secret
    }

    /// Unmodified lego issuing `domains` from pebble through cdnsd's httpreq API.
    static func runLego(_ lego: String, domains: [String], secret: String, cdnsd: ChallengeDaemon, pebble: PebbleServer,
                        in directory: TemporaryDirectory) throws -> (status: Int32, output: String) {
        try ManagedProcess.run(lego, [
            "--server", pebble.directoryURL, "--email", "admin@svc.test", "--accept-tos", "--path", directory.url.appendingPathComponent("lego").path,
            "--dns", "httpreq", "--dns.resolvers", "127.0.0.1:\(cdnsd.dnsPort)", "--dns.disable-cp",
        ] + domains.flatMap { ["-d", $0] } + ["run"], environment: [
            "LEGO_CA_CERTIFICATES": pebble.httpsCA, "HTTPREQ_ENDPOINT": cdnsd.apiURL,
            "HTTPREQ_USERNAME": "lego", "HTTPREQ_PASSWORD": secret,
            "HTTPREQ_PROPAGATION_TIMEOUT": "30", "HTTPREQ_POLLING_INTERVAL": "1",
        ], timeout: 180)
    }

    @Test("(b) certbot with certbot-dns-acmedns after registering with curl", .enabled(if: certbotReady))
    func certbotACMEDNS() async throws {
        try await issueWithCertbot(domain: "svc.test", cnameZone: .svc)
    }

    @Test("(c) the acme-dns CNAME flow for a second zone, whose _acme-challenge is a static CNAME into the account's fulldomain", .enabled(if: certbotReady))
    func cnameFromSecondZone() async throws {
        try await issueWithCertbot(domain: "other.test", cnameZone: .other)
    }

    enum CNAMEZone { case svc, other }

    /// Registers an acme-dns account with curl, restarts cdnsd with the
    /// static `_acme-challenge.<domain>` CNAME to the account's fulldomain,
    /// and has certbot issue `*.<domain>` + `<domain>` through /update.
    func issueWithCertbot(domain: String, cnameZone: CNAMEZone) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        try cdnsd.start()
        let registered = try Curl.post("\(cdnsd.apiURL)/register", json: "{\"allowfrom\":[\"127.0.0.0/8\"]}")
        #expect(registered.status == 201)
        let account = try #require(try JSONSerialization.jsonObject(with: Data(registered.body.utf8)) as? [String: Any])
        let fulldomain = try #require(account["fulldomain"] as? String)
        cdnsd.stop()
        // The account survives the restart (SQLite); the CNAME is configuration.
        let cname = "_acme-challenge.\(domain). CNAME \(fulldomain)."
        try cdnsd.start(svc: cnameZone == .svc ? [cname] : [], other: cnameZone == .other ? [cname] : [])
        defer { cdnsd.stop() }
        // certbot 2.1 retries a badNonce once and then dies ("AttributeError:
        // can't set attribute"); its retry is not what this test is about.
        let pebble = try PebbleServer.start(in: directory, dnsPort: cdnsd.dnsPort, nonceRejection: false)
        defer { pebble.process.stop() }

        let registrations = try JSONSerialization.data(withJSONObject: [domain: account])
        let registrationFile = try directory.file("acmedns.json", String(decoding: registrations, as: UTF8.self))
        try Self.issueWithCertbotACMEDNS(registrationFile: registrationFile, domain: domain, cdnsd: cdnsd, pebble: pebble, in: directory)
        // Both validation values (wildcard and apex) were live at once under the account.
        #expect(try cdnsd.txt("\(fulldomain).").count == 2)
    }

    /// Runs certbot with certbot-dns-acmedns and `registrationFile` (its
    /// acmedns.json) against `cdnsd`'s API for `*.<domain>` + `<domain>`, and
    /// checks the chain it got.
    static func issueWithCertbotACMEDNS(registrationFile: String, domain: String, cdnsd: ChallengeDaemon, pebble: PebbleServer, in directory: TemporaryDirectory) throws {
        guard let python = certbotPython else {
            throw TestSetupError("CDNS_CERTBOT_PYTHON is not set; Scripts/test.sh makes a venv with certbot-dns-acmedns")
        }
        let certbot = try Programs.require("certbot")
        let credentials = try directory.file("acmedns.ini", "dns_acmedns_api_url = \(cdnsd.apiURL)\ndns_acmedns_registration_file = \(registrationFile)\n")
        for file in [registrationFile, credentials] { chmod(file, 0o600) }
        let state = directory.url.appendingPathComponent("certbot").path
        let run = try ManagedProcess.run(python, [
            certbot, "certonly", "--non-interactive", "--agree-tos", "--register-unsafely-without-email",
            "--server", pebble.directoryURL, "--config-dir", state, "--work-dir", state, "--logs-dir", state,
            "-a", "dns-acmedns", "--dns-acmedns-credentials", credentials, "--dns-acmedns-propagation-seconds", "1",
            "-d", "*.\(domain)", "-d", domain,
        ], environment: ["REQUESTS_CA_BUNDLE": pebble.httpsCA], timeout: 180)
        #expect(run.status == 0, "\(run.output)\n\(cdnsd.process?.output ?? "")")
        try ChallengeEndToEndTests().expectIssued(chain: "\(state)/live/\(domain)/fullchain.pem", names: ["*.\(domain)", domain], pebble: pebble, in: directory)
    }

    func expectIssued(chain: String, names: Set<String>, pebble: PebbleServer, in directory: TemporaryDirectory) throws {
        #expect(FileManager.default.fileExists(atPath: chain), "no certificate at \(chain)")
        let root = try pebble.issuingRoot(in: directory)
        let verified = try OpenSSL.verify(chain: chain, root: root)
        #expect(verified.ok, "\(verified.output)")
        #expect(try OpenSSL.dnsNames(chain) == names)
    }
}

/// Polls `condition` for up to `timeout` seconds, and once more at the end:
/// under a loaded CI run the sleeping task may wake only after the deadline.
func waitUntil(_ what: String, timeout: Double = 10, _ condition: () throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if (try? condition()) == true { return }
        if Date() >= deadline { break }
        try await Task.sleep(for: .milliseconds(200))
    }
    throw TestSetupError("\(what): not within \(timeout)s")
}
