import CDNSTestSupport
import ACMEClient
import Foundation
import Testing

/// cdnsd's own certificate from pebble (`[api] tls = "acme"`), its live
/// renewal, and `cdnsd cert issue` for other services.
@Suite("cdnsd with an ACME CA", .blocking, .serialized)
struct DaemonACMETests {
    /// A cdnsd whose `[acme]` points at `pebble`, which validates against
    /// that cdnsd: ports are chosen before either starts.
    static func setup(in directory: TemporaryDirectory, acmeAPI: Bool) throws -> (ChallengeDaemon, PebbleServer) {
        var cdnsd = try ChallengeDaemon(in: directory)
        let pebble = try PebbleServer.start(in: directory, dnsPort: cdnsd.dnsPort)
        if acmeAPI { cdnsd.apiLines = ["tls = \"acme\"", "domain = \"api.svc.test\""] }
        cdnsd.sections = """
            [acme]
            directory = "\(pebble.directoryURL)"
            email = "admin@svc.test"
            ca_roots = "\(pebble.httpsCA)"
            """
        return (cdnsd, pebble)
    }

    @Test("tls = acme: /health over HTTPS trusted by pebble's root within seconds; SIGHUP renews it live, no restart, no failed request",
          .enabled(if: Programs.runnable("pebble", "openssl", "curl")))
    func ownCertificate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var (cdnsd, pebble) = try Self.setup(in: directory, acmeAPI: true)
        defer { pebble.process.stop() }
        let started = Date()
        try cdnsd.start(waitForAPI: false)
        defer { cdnsd.stop() }
        let root = try pebble.issuingRoot(in: directory)
        let port = cdnsd.apiPort
        // The certificate names api.svc.test, so curl is told where that name lives.
        let health = ["--cacert", root, "--resolve", "api.svc.test:\(port):127.0.0.1", "https://api.svc.test:\(port)/health"]
        try await waitUntil("the API answers over HTTPS", timeout: 60) { try Curl.request(["--max-time", "2"] + health, timeout: 3).status == 200 }
        print("tls = acme: HTTPS /health answered \(String(format: "%.1f", Date().timeIntervalSince(started))) s after start")
        let firstSerial = try OpenSSL.servedSerial(port: port)
        let pid = try #require(cdnsd.process?.pid)

        let load = RequestLoad(health, seconds: 10)
        try await Task.sleep(for: .milliseconds(500))
        kill(pid, SIGHUP)
        try await waitUntil("a renewed certificate is served", timeout: 30) { try OpenSSL.servedSerial(port: port) != firstSerial }
        let result = load.result()
        #expect(result.failed.isEmpty, "\(result.failed)")
        #expect(result.ok > 3)
        #expect(cdnsd.process?.isRunning == true && cdnsd.process?.pid == pid, "renewed without a restart")
        // The stored account and keys are owner-only.
        let acme = directory.url.appendingPathComponent("data/acme").path
        for file in ["account.key", "api.svc.test.key"] {
            let mode = try FileManager.default.attributesOfItem(atPath: "\(acme)/\(file)")[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file)")
        }
    }

    @Test("cert issue writes a wildcard certificate openssl verifies against pebble's root, while the daemon runs; cert status lists it",
          .enabled(if: Programs.runnable("pebble", "openssl", "curl")))
    func certIssue() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var (cdnsd, pebble) = try Self.setup(in: directory, acmeAPI: false)
        defer { pebble.process.stop() }
        try cdnsd.start()
        defer { cdnsd.stop() }
        let out = directory.url.appendingPathComponent("traefik").path
        let issued = try cdnsd.command(["cert", "issue", "-d", "*.svc.test", "-d", "svc.test", "--out", out])
        #expect(issued.status == 0, "\(issued.output)\n\(cdnsd.process?.output ?? "")")
        #expect(issued.output.contains("using the cdnsd serving"))
        #expect(issued.output.contains("published _acme-challenge.svc.test."))
        let verified = try OpenSSL.verify(chain: "\(out)/fullchain.pem", root: try pebble.issuingRoot(in: directory))
        #expect(verified.ok, "\(verified.output)")
        #expect(try OpenSSL.dnsNames("\(out)/fullchain.pem") == ["*.svc.test", "svc.test"])
        #expect((try FileManager.default.attributesOfItem(atPath: "\(out)/privkey.pem")[.posixPermissions] as? Int) == 0o600)
        let status = try cdnsd.command(["cert", "status"])
        #expect(status.output.contains("_.svc.test\tvalid\tserial \(try OpenSSL.serial(of: "\(out)/fullchain.pem"))"), "\(status.output)")
    }

    @Test("cert issue records a certificate the running daemon renews: files replaced with their modes, the deploy hook once per issuance, cert status truthful, cert remove",
          .enabled(if: Programs.runnable("pebble", "openssl", "curl")))
    func managedRenewal() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var (cdnsd, pebble) = try Self.setup(in: directory, acmeAPI: false)
        defer { pebble.process.stop() }
        try cdnsd.start()
        defer { cdnsd.stop() }
        // How long pebble's certificates live from now, learnt from a first one.
        let probe = directory.url.appendingPathComponent("probe").path
        let probed = try cdnsd.command(["cert", "issue", "-d", "probe.svc.test", "--out", probe])
        try #require(probed.status == 0, "\(probed.output)")
        let remaining = try OpenSSL.notAfter("\(probe)/fullchain.pem").timeIntervalSinceNow
        #expect(try cdnsd.command(["cert", "remove", "probe.svc.test"]).status == 0)
        // Renew when less than that, minus 25 s, is left: 25 s after each issuance.
        let renewBefore = Int(remaining) - 25

        let out = directory.url.appendingPathComponent("nginx").path
        let hooks = directory.url.appendingPathComponent("hooks.log").path
        let hook = "openssl x509 -in \"$CDNSD_FULLCHAIN\" -noout -serial >> \(hooks)"
        let issued = try cdnsd.command(["cert", "issue", "-d", "managed.svc.test", "--out", out, "--key-mode", "0640",
                                        "--deploy-hook", hook, "--renew-before", "\(renewBefore)"])
        try #require(issued.status == 0, "\(issued.output)")
        let firstSerial = try OpenSSL.serial(of: "\(out)/fullchain.pem")
        func hookSerials() -> [String] {
            ((try? String(contentsOfFile: hooks, encoding: .utf8)) ?? "").split(separator: "\n").map { String($0.dropFirst("serial=".count)) }
        }
        #expect(hookSerials() == [firstSerial], "the hook ran after the first issuance")
        func status() throws -> String { try cdnsd.command(["cert", "status"]).output }
        func line(_ text: String) -> String { text.split(separator: "\n").first { $0.hasPrefix("managed.svc.test\t") }.map(String.init) ?? "" }
        let before = line(try status())
        #expect(before.hasPrefix("managed.svc.test\tvalid\tserial \(firstSerial)\t"), "\(before)")
        #expect(before.contains("renewals 0") && before.contains("next renewal 20"), "\(before)")
        #expect((try FileManager.default.attributesOfItem(atPath: "\(out)/privkey.pem")[.posixPermissions] as? Int) == 0o640)
        #expect((try FileManager.default.attributesOfItem(atPath: "\(out)/fullchain.pem")[.posixPermissions] as? Int) == 0o644)

        // The daemon renews it on its own.
        try await waitUntil("the daemon renews the certificate", timeout: 90) { try OpenSSL.serial(of: "\(out)/fullchain.pem") != firstSerial }
        let secondSerial = try OpenSSL.serial(of: "\(out)/fullchain.pem")
        try await waitUntil("cert status shows the renewal", timeout: 10) { line(try status()).contains("serial \(secondSerial)") }
        let after = line(try status())
        #expect(after.contains("renewals ") && !after.contains("renewals 0"), "\(after)")
        #expect(after.contains("last error none") && after.contains("last hook exit 0 at"), "\(after)")
        let notAfter = { (text: String) in text.split(separator: "\t").first { $0.hasPrefix("not after ") } }
        #expect(notAfter(after) != nil && notAfter(after) != notAfter(before), "the new expiry: \(before) → \(after)")
        let verified = try OpenSSL.verify(chain: "\(out)/fullchain.pem", root: try pebble.issuingRoot(in: directory))
        #expect(verified.ok, "\(verified.output)")
        #expect((try FileManager.default.attributesOfItem(atPath: "\(out)/privkey.pem")[.posixPermissions] as? Int) == 0o640, "modes survive renewal")
        let serials = hookSerials()
        #expect(Set(serials).count == serials.count && serials.prefix(2) == [firstSerial, secondSerial], "one hook run per issuance: \(serials)")
        #expect(cdnsd.process?.output.contains("managed certificate renewed") == true)

        // With the CA gone, the next renewal fails and cert status says so.
        pebble.process.stop()
        try await waitUntil("a failed renewal shows in cert status", timeout: 60) { !line(try status()).contains("last error none") }
        let failed = line(try status())
        #expect(failed.contains("(retry 1)") || failed.contains("(retry 2)"), "\(failed)")
        #expect(cdnsd.process?.isRunning == true)

        let removed = try cdnsd.command(["cert", "remove", "managed.svc.test"])
        #expect(removed.status == 0, "\(removed.output)")
        #expect(line(try status()).isEmpty)
        #expect(FileManager.default.fileExists(atPath: "\(out)/fullchain.pem"), "cert remove leaves the files")
    }
}
