import ACMEClient
import Foundation
import Testing

/// cdnsd's own certificate from pebble (`[api] tls = "acme"`), its live
/// renewal, and `cdnsd cert issue` for other services.
@Suite("cdnsd with an ACME CA", .serialized)
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
        let result = await load.result()
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
}
