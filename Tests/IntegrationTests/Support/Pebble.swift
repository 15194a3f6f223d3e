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

    static func start(in directory: TemporaryDirectory, dnsPort: UInt16, eab: Bool = false) throws -> PebbleServer {
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
            environment: ["PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0"], directory: directory)
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

/// openssl, for throw-away certificates and for checking issued chains.
enum OpenSSL {
    /// A CA and a certificate for localhost / 127.0.0.1 / ::1 signed by it:
    /// returns the paths of the CA certificate, the certificate and its key.
    static func localhostCertificate(in directory: TemporaryDirectory, name: String, days: Int = 2) throws -> (ca: String, certificate: String, key: String) {
        let ca = try certificateAuthority(in: directory, name: "\(name)-ca", days: days)
        let (certificate, key) = try issueLocalhost(ca: ca, in: directory, name: name, days: days)
        return (ca.certificate, certificate, key)
    }

    /// A throw-away CA: its certificate and key paths.
    static func certificateAuthority(in directory: TemporaryDirectory, name: String, days: Int = 2) throws -> (certificate: String, key: String) {
        let base = directory.url.appendingPathComponent(name).path
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(base).key",
                 "-out", "\(base).pem", "-days", "\(days)", "-subj", "/CN=cdnsd test CA \(name)"])
        return ("\(base).pem", "\(base).key")
    }

    /// A certificate for localhost, 127.0.0.1 and ::1 with a fresh key, signed by `ca`.
    static func issueLocalhost(ca: (certificate: String, key: String), in directory: TemporaryDirectory, name: String, days: Int = 2) throws -> (certificate: String, key: String) {
        let base = directory.url.appendingPathComponent(name).path
        let extensions = try directory.file("\(name).ext", "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n")
        try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(base).key",
                 "-out", "\(base).csr", "-subj", "/CN=localhost"])
        try run(["x509", "-req", "-in", "\(base).csr", "-CA", ca.certificate, "-CAkey", ca.key, "-set_serial", "0x" + String(UInt64.random(in: 1...UInt64.max), radix: 16),
                 "-out", "\(base).pem", "-days", "\(days)", "-extfile", extensions])
        return ("\(base).pem", "\(base).key")
    }

    /// The serial number of a certificate file, as openssl prints it.
    static func serial(of file: String) throws -> String {
        let result = try ManagedProcess.run(try Programs.require("openssl"), ["x509", "-in", file, "-noout", "-serial"])
        guard let line = result.output.split(separator: "\n").first(where: { $0.hasPrefix("serial=") }) else { throw TestSetupError("no serial in \(file)") }
        return String(line.dropFirst("serial=".count))
    }

    private static func run(_ arguments: [String]) throws {
        let result = try ManagedProcess.run(try Programs.require("openssl"), arguments)
        guard result.status == 0 else { throw TestSetupError("openssl \(arguments.joined(separator: " ")) failed:\n\(result.output)") }
    }

    /// Verifies the first certificate of `chain` (leaf first, intermediates
    /// after) against `root`; returns openssl's output.
    static func verify(chain: String, root: String) throws -> (ok: Bool, output: String) {
        let result = try ManagedProcess.run(try Programs.require("openssl"), ["verify", "-CAfile", root, "-untrusted", chain, chain])
        return (result.status == 0 && result.output.contains(": OK"), result.output)
    }

    /// The DNS names in the first certificate of `file`.
    static func dnsNames(_ file: String) throws -> Set<String> {
        let result = try ManagedProcess.run(try Programs.require("openssl"), ["x509", "-in", file, "-noout", "-ext", "subjectAltName"])
        return Set(result.output.split(whereSeparator: { $0 == "," || $0 == "\n" }).compactMap { part in
            let text = part.trimmingCharacters(in: .whitespaces)
            return text.hasPrefix("DNS:") ? String(text.dropFirst(4)) : nil
        })
    }

    /// The serial number of the certificate a TLS server presents.
    static func servedSerial(port: UInt16) throws -> String {
        let openssl = try Programs.require("openssl")
        let connect = try ManagedProcess.run("/bin/sh", ["-c", "\(openssl) s_client -connect 127.0.0.1:\(port) </dev/null 2>/dev/null | \(openssl) x509 -noout -serial"])
        guard connect.status == 0, let line = connect.output.split(separator: "\n").first(where: { $0.hasPrefix("serial=") }) else {
            throw TestSetupError("no certificate from 127.0.0.1:\(port): \(connect.output)")
        }
        return String(line.dropFirst("serial=".count))
    }
}

/// curl, the HTTP client the tests drive the API with.
enum Curl {
    struct Response: CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "\(status) \(body)" }
    }

    /// Runs curl and splits off the status line it is told to append.
    static func request(_ arguments: [String], timeout: Double = 30) throws -> Response {
        let curl = try Programs.require("curl")
        let result = try ManagedProcess.run(curl, ["-sS", "--max-time", "\(Int(timeout))", "-w", "\n%{http_code}"] + arguments, timeout: timeout + 5)
        let text = result.output.hasSuffix("\n") ? String(result.output.dropLast()) : result.output
        guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]) else {
            throw TestSetupError("curl \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return Response(status: status, body: String(text[..<newline]))
    }

    static func get(_ url: String, caFile: String? = nil) throws -> Response {
        try request((caFile.map { ["--cacert", $0] } ?? []) + [url])
    }

    static func post(_ url: String, json: String, headers: [String] = []) throws -> Response {
        try request(["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", json] + headers.flatMap { ["-H", $0] } + [url])
    }

    /// Waits until `url` answers 200.
    static func waitFor(_ url: String, process: ManagedProcess, caFile: String? = nil, timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !process.isRunning { throw TestSetupError("\(process.name) exited:\n\(process.output)") }
            if (try? request(["--max-time", "1"] + (caFile.map { ["--cacert", $0] } ?? []) + [url], timeout: 2).status) == 200 { return }
            usleep(100_000)
        }
        throw TestSetupError("\(url) did not answer within \(timeout)s:\n\(process.output)")
    }
}
