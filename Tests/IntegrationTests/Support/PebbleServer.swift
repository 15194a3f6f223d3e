import Foundation

/// pebble, the ACME test CA, on free loopback ports, validating dns-01
/// against `dnsPort`. It ships no certificate for its own HTTPS, so a
/// throw-away CA and a localhost certificate are made with openssl.
struct PebbleServer {
    let process: ManagedProcess
    let port: UInt16
    let managementPort: UInt16
    /// Trust for pebble's HTTPS listeners (not for what it issues).
    let httpsCA: String

    var directoryURL: String { "https://127.0.0.1:\(port)/dir" }

    /// - Parameter nonceRejection: pebble's default 5 % badNonce rejection;
    ///   off only for clients whose retry is not under test and gives up
    ///   after one retry (certbot 2.1 fails on two rejections in a row).
    static func start(in directory: TemporaryDirectory, dnsPort: UInt16, eab: Bool = false, nonceRejection: Bool = true) throws -> PebbleServer {
        let pebble = try Programs.require("pebble")
        let (ca, certificate, key) = try OpenSSL.localhostCertificate(in: directory, name: "pebble-https")
        let port = try TestDNSClient.freePort()
        let management = try TestDNSClient.freePort()
        let eabLines = eab ? """
            ,
            "externalAccountBindingRequired": true,
            "externalAccountMACKeys": { "kid-1": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W" }
            """ : ""
        let configuration = try directory.file("pebble.json", """
            {
              "pebble": {
                "listenAddress": "127.0.0.1:\(port)",
                "managementListenAddress": "127.0.0.1:\(management)",
                "certificate": "\(certificate)",
                "privateKey": "\(key)",
                "httpPort": \(try TestDNSClient.freePort()),
                "tlsPort": \(try TestDNSClient.freePort()),
                "ocspResponderURL": ""\(eabLines)
              }
            }
            """)
        let process = try ManagedProcess(
            pebble, ["-config", configuration, "-dnsserver", "127.0.0.1:\(dnsPort)"],
            environment: ["PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0", "PEBBLE_WFE_NONCEREJECT": nonceRejection ? "5" : "0"], directory: directory)
        let server = PebbleServer(process: process, port: port, managementPort: management, httpsCA: ca)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !process.isRunning { throw TestSetupError("pebble exited:\n\(process.output)") }
            if (try? Curl.get(server.directoryURL, caFile: ca).status) == 200 { return server }
            usleep(100_000)
        }
        process.stop()
        throw TestSetupError("pebble did not start:\n\(process.output)")
    }

    /// The root pebble issues under in this run (it changes on every start).
    func issuingRoot(in directory: TemporaryDirectory) throws -> String {
        let root = try Curl.get("https://127.0.0.1:\(managementPort)/roots/0", caFile: httpsCA)
        guard root.status == 200, root.body.contains("BEGIN CERTIFICATE") else { throw TestSetupError("no root from pebble: \(root)") }
        return try directory.file("pebble-root.pem", root.body)
    }
}
