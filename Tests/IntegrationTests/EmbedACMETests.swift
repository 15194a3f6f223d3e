import CDNSTestSupport
import Foundation
import Testing

/// Examples/EmbedACME, a separate package that uses ACMEClient alone, gets
/// a wildcard certificate from pebble with its own solver publishing
/// through cdnsd's httpreq API. Scripts/test.sh builds it and names the
/// binary in CDNS_EMBED_ACME (after the main test run, in a second one).
@Suite(.blocking) struct EmbedACMETests {
    static var binary: String? { ProcessInfo.processInfo.environment["CDNS_EMBED_ACME"] }

    @Test("Examples/EmbedACME issues *.svc.test + svc.test from pebble", .enabled(if: binary != nil || Programs.required))
    func embedACME() async throws {
        guard let binary = Self.binary else {
            throw TestSetupError("CDNS_EMBED_ACME is not set; Scripts/test.sh builds Examples/EmbedACME and sets it")
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        try cdnsd.start()
        defer { cdnsd.stop() }
        let pebble = try PebbleServer.start(in: directory, dnsPort: cdnsd.dnsPort)
        defer { pebble.process.stop() }
        let secret = try await ChallengeEndToEndTests.addLegoCredential(cdnsd, ["--allow", "*.svc.test"])
        let chain = directory.url.appendingPathComponent("chain.pem").path
        let run = try ManagedProcess.run(binary, [], environment: [
            "ACME_DIRECTORY": pebble.directoryURL, "ACME_CA_FILE": pebble.httpsCA, "DOMAINS": "*.svc.test,svc.test", "OUT": chain,
            "HTTPREQ_ENDPOINT": cdnsd.apiURL, "HTTPREQ_USERNAME": "lego", "HTTPREQ_PASSWORD": secret,
        ], timeout: 120)
        #expect(run.status == 0, "\(run.output)\n\(cdnsd.process?.output ?? "")")
        let verified = try OpenSSL.verify(chain: chain, root: try pebble.issuingRoot(in: directory))
        #expect(verified.ok, "\(verified.output)")
        #expect(try OpenSSL.dnsNames(chain) == ["*.svc.test", "svc.test"])
    }
}
