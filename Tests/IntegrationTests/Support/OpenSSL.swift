import Foundation

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

    /// The expiry of a certificate file.
    static func notAfter(_ file: String) throws -> Date {
        let result = try ManagedProcess.run(try Programs.require("openssl"), ["x509", "-in", file, "-noout", "-enddate"])
        guard let line = result.output.split(separator: "\n").first(where: { $0.hasPrefix("notAfter=") }) else { throw TestSetupError("no notAfter in \(file)") }
        let text = line.dropFirst("notAfter=".count).split(separator: " ").joined(separator: " ")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy zzz"
        guard let date = formatter.date(from: text) else { throw TestSetupError("cannot read the date \(text)") }
        return date
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
