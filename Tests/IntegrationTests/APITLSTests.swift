import CDNSTestSupport
import Foundation
import Testing

/// `[api] tls = "file"`: HTTPS with the configured pair, and a new pair
/// written over the files is served from the next handshake on, with no
/// restart and no failed request meanwhile.
@Suite("API over TLS from files", .blocking)
struct APITLSTests {
    @Test("rewritten certificate files are served without a restart or a failed request", .enabled(if: Programs.runnable("openssl", "curl")))
    func hotSwap() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try OpenSSL.certificateAuthority(in: directory, name: "api-ca")
        let first = try OpenSSL.issueLocalhost(ca: ca, in: directory, name: "api-first")
        let second = try OpenSSL.issueLocalhost(ca: ca, in: directory, name: "api-second")
        let served = (certificate: directory.url.appendingPathComponent("served.pem").path, key: directory.url.appendingPathComponent("served.key").path)
        try FileManager.default.copyItem(atPath: first.certificate, toPath: served.certificate)
        try FileManager.default.copyItem(atPath: first.key, toPath: served.key)

        var cdnsd = try ChallengeDaemon(in: directory)
        cdnsd.tls = (served.certificate, served.key, ca.certificate)
        try cdnsd.start()
        defer { cdnsd.stop() }
        let apiPort = cdnsd.apiPort
        #expect(try OpenSSL.servedSerial(port: apiPort) == OpenSSL.serial(of: first.certificate))

        // Requests keep going while the files are replaced.
        let load = RequestLoad(["--cacert", ca.certificate, "\(cdnsd.apiURL)/health"], seconds: 12)
        try await Task.sleep(for: .seconds(1))
        // Key first, then certificate, each replaced by rename. In between the
        // pair does not match: the old one must stay in service.
        func replace(_ source: String, _ target: String) throws {
            let staging = target + ".new"
            try FileManager.default.copyItem(atPath: source, toPath: staging)
            _ = rename(staging, target)
        }
        try replace(second.key, served.key)
        let process = try #require(cdnsd.process)
        try await waitUntil("the mismatched pair is noticed", timeout: 20) { process.output.contains("does not match") }
        #expect(try OpenSSL.servedSerial(port: apiPort) == OpenSSL.serial(of: first.certificate))
        try replace(second.certificate, served.certificate)
        let secondSerial = try OpenSSL.serial(of: second.certificate)
        try await waitUntil("the new certificate is served", timeout: 10) { try OpenSSL.servedSerial(port: apiPort) == secondSerial }
        let result = load.result()
        #expect(result.failed.isEmpty, "\(result.failed)")
        #expect(result.ok > 5)
        #expect(cdnsd.process?.output.contains("API certificate reloaded") == true)
    }

    @Test("a Kubernetes-style secret rotation (the ..data symlink swapped atomically) is served without a restart",
          .enabled(if: Programs.runnable("openssl", "curl")))
    func symlinkSwap() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try OpenSSL.certificateAuthority(in: directory, name: "api-ca")
        let first = try OpenSSL.issueLocalhost(ca: ca, in: directory, name: "api-first")
        let second = try OpenSSL.issueLocalhost(ca: ca, in: directory, name: "api-second")
        // The layout kubelet makes for a mounted secret:
        //   tls.crt -> ..data/tls.crt, tls.key -> ..data/tls.key, ..data -> ..<timestamp>/
        let mount = directory.url.appendingPathComponent("secret").path
        let files = FileManager.default
        func version(_ name: String, _ pair: (certificate: String, key: String)) throws {
            try files.createDirectory(atPath: "\(mount)/\(name)", withIntermediateDirectories: true)
            try files.copyItem(atPath: pair.certificate, toPath: "\(mount)/\(name)/tls.crt")
            try files.copyItem(atPath: pair.key, toPath: "\(mount)/\(name)/tls.key")
        }
        try version("..2024_01_01_00_00_00.1", first)
        try files.createSymbolicLink(atPath: "\(mount)/..data", withDestinationPath: "..2024_01_01_00_00_00.1")
        try files.createSymbolicLink(atPath: "\(mount)/tls.crt", withDestinationPath: "..data/tls.crt")
        try files.createSymbolicLink(atPath: "\(mount)/tls.key", withDestinationPath: "..data/tls.key")

        var cdnsd = try ChallengeDaemon(in: directory)
        cdnsd.tls = ("\(mount)/tls.crt", "\(mount)/tls.key", ca.certificate)
        try cdnsd.start()
        defer { cdnsd.stop() }
        #expect(try OpenSSL.servedSerial(port: cdnsd.apiPort) == OpenSSL.serial(of: first.certificate))

        // The rotation: a new version directory, a new link beside ..data, renamed over it.
        try version("..2024_01_02_00_00_00.2", second)
        try files.createSymbolicLink(atPath: "\(mount)/..data_tmp", withDestinationPath: "..2024_01_02_00_00_00.2")
        #expect(rename("\(mount)/..data_tmp", "\(mount)/..data") == 0)
        try files.removeItem(atPath: "\(mount)/..2024_01_01_00_00_00.1")
        let secondSerial = try OpenSSL.serial(of: second.certificate)
        let port = cdnsd.apiPort
        try await waitUntil("the rotated certificate is served", timeout: 15) { try OpenSSL.servedSerial(port: port) == secondSerial }
        #expect(cdnsd.process?.output.contains("API certificate reloaded") == true)
    }
}
