import COpenSSL
import Foundation

/// A PKCS#10 certificate signing request for DNS names (wildcards
/// included), signed with the certificate key through OpenSSL.
public enum CertificateRequest {
    /// DER of a CSR whose subjectAltName lists `names` (the first is also the CN).
    public static func der(names: [String], key: PrivateKey) throws(ACMEError) -> [UInt8] {
        guard let first = names.first else { throw ACMEError(.crypto, "a CSR needs at least one name") }
        for name in names where name.isEmpty || name.contains(",") || name.contains(where: { $0.isWhitespace }) {
            throw ACMEError(.crypto, "not a DNS name: \(name)")
        }
        let san = names.map { "DNS:\($0)" }.joined(separator: ",")
        var out: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        guard cdns_make_csr(key.key, first, san, &out, &length) == 1, let out else { throw PrivateKey.failure("making a CSR") }
        defer { free(out) }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }

    /// The same CSR as PEM, for `openssl req` and files.
    public static func pem(names: [String], key: PrivateKey) throws(ACMEError) -> String {
        let base64 = Data(try der(names: names, key: key)).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN CERTIFICATE REQUEST-----\n\(base64)\n-----END CERTIFICATE REQUEST-----\n"
    }
}
