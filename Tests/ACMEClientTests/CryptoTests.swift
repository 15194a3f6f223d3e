@testable import ACMEClient
import CDNSTestSupport
import Foundation
import Testing

/// Keys, JWS signatures and CSRs, checked by the openssl command line
/// (an independent implementation) where it can judge them.
@Suite("ACME crypto", .blocking)
struct CryptoTests {
    static let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var required: Bool { ProcessInfo.processInfo.environment["CDNS_REQUIRE_INTEGRATION"] == "1" }

    /// RFC 7638 §3.1: this RSA JWK's thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
    @Test("RFC 7638 thumbprint of the RFC's example key")
    func thumbprintVector() {
        let jwk = [
            "kty": "RSA", "e": "AQAB",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        ]
        #expect(PrivateKey.thumbprint(jwk: jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    /// RFC 9773 §4.1's example: AKI 69:88:5B:…:C8:D4 and serial 00:87:65:43:21.
    @Test("ARI certificate identifier of the RFC's example")
    func renewalInfoIdentifier() {
        let aki: [UInt8] = [0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4]
        #expect(CertificateInfo.renewalInfoID(authorityKeyIdentifier: aki, serial: [0x00, 0x87, 0x65, 0x43, 0x21]) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    }

    @Test("serials print as openssl prints them: whole bytes, no sign byte", .enabled(if: openssl != nil || required))
    func serialHex() throws {
        let directory = try Scratch()
        defer { directory.remove() }
        let openssl = try #require(Self.openssl)
        for serial in ["0x02B9F2D816C08406", "0x8000000000000001", "0x7F"] {
            let key = directory.path("k.pem"), certificate = directory.path("c.pem")
            let made = try run(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                                         "-out", certificate, "-days", "1", "-subj", "/CN=t", "-set_serial", serial])
            #expect(made.status == 0, "\(made.output)")
            let info = try CertificateInfo(pem: String(contentsOfFile: certificate, encoding: .utf8))
            let printed = try run(openssl, ["x509", "-in", certificate, "-noout", "-serial"]).output
            #expect("serial=\(info.serialHex)\n" == printed, "\(serial)")
        }
    }

    /// RFC 8555 §8.4 with the thumbprint above: the TXT value is base64url(SHA-256("token.thumbprint")).
    @Test("dns-01 value and key PEM round trip")
    func dns01AndPEM() throws {
        #expect(ACMEClient.dns01Value(token: "abc", thumbprint: "x").count == 43)
        for algorithm in PrivateKey.Algorithm.allCases {
            let key = try PrivateKey(generating: algorithm)
            let again = try PrivateKey(pem: key.pem)
            #expect(again.jwk == key.jwk, "\(algorithm)")
            #expect(key.pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        }
        #expect(throws: ACMEError.self) { try PrivateKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
    }

    @Test("JWS signatures (ES256 raw r‖s, RS256) verify with openssl", .enabled(if: openssl != nil || required), arguments: PrivateKey.Algorithm.allCases)
    func signaturesVerify(algorithm: PrivateKey.Algorithm) throws {
        let openssl = try #require(Self.openssl)
        let directory = try Scratch()
        defer { directory.remove() }
        let key = try PrivateKey(generating: algorithm)
        let message = Array("eyJhbGciOiJFUzI1NiJ9.eyJoZWxsbyI6IndvcmxkIn0".utf8)
        let signature = try key.sign(message)
        if algorithm == .p256 { #expect(signature.count == 64) }
        let keyFile = try directory.write("key.pem", Array(key.pem.utf8))
        let publicKey = directory.path("public.pem")
        #expect(try run(openssl, ["pkey", "-in", keyFile, "-pubout", "-out", publicKey]).status == 0)
        let data = try directory.write("data", message)
        // openssl wants ECDSA signatures DER-encoded.
        let signatureFile = try directory.write("signature", algorithm == .p256 ? Self.derECDSA(signature) : signature)
        let verified = try run(openssl, ["dgst", "-sha256", "-verify", publicKey, "-signature", signatureFile, data])
        #expect(verified.status == 0 && verified.output.contains("Verified OK"), "\(verified.output)")
        var tampered = message
        tampered[0] ^= 1
        let tamperedFile = try directory.write("tampered", tampered)
        #expect(try run(openssl, ["dgst", "-sha256", "-verify", publicKey, "-signature", signatureFile, tamperedFile]).status != 0)
    }

    @Test("the CSR carries every name and passes openssl req -verify", .enabled(if: openssl != nil || required))
    func csrVerifies() throws {
        let openssl = try #require(Self.openssl)
        let directory = try Scratch()
        defer { directory.remove() }
        let key = try PrivateKey(generating: .p256)
        let file = try directory.write("request.pem", Array(try CertificateRequest.pem(names: ["*.svc.dev", "svc.dev"], key: key).utf8))
        let verified = try run(openssl, ["req", "-in", file, "-verify", "-noout", "-text"])
        #expect(verified.status == 0, "\(verified.output)")
        #expect(verified.output.contains("DNS:*.svc.dev, DNS:svc.dev"), "\(verified.output)")
        #expect(verified.output.contains("CN = *.svc.dev") || verified.output.contains("CN=*.svc.dev"))
        #expect(throws: ACMEError.self) { try CertificateRequest.der(names: ["a b"], key: key) }
    }

    /// SEQUENCE { INTEGER r, INTEGER s } from 64 raw bytes.
    static func derECDSA(_ raw: [UInt8]) -> [UInt8] {
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var value = Array(bytes.drop { $0 == 0 })
            if value.isEmpty || value[0] & 0x80 != 0 { value.insert(0, at: 0) }
            return [0x02, UInt8(value.count)] + value
        }
        let body = integer(raw[0..<32]) + integer(raw[32..<64])
        return [0x30, UInt8(body.count)] + body
    }

    func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

/// A temporary directory for files handed to openssl.
struct Scratch {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cdnsd-acme-\(UUID().uuidString.prefix(8))")

    init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: url.appendingPathComponent(name))
        return path(name)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
