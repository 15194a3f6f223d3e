import COpenSSL
import Foundation

/// What renewal needs to know about an issued certificate (the first in a
/// PEM chain): its validity and its ARI certificate identifier.
public struct CertificateInfo: Sendable, Equatable {
    public var notBefore: Date
    public var notAfter: Date
    /// The serial number's bytes, DER content form (leading zero kept when the high bit is set).
    public var serial: [UInt8]
    public var authorityKeyIdentifier: [UInt8]

    public init(pem: String) throws(ACMEError) {
        var info = cdns_certificate_info()
        let bytes = Array(pem.utf8)
        guard cdns_certificate_info_from_pem(bytes, bytes.count, &info) == 1 else {
            if let reason = cdns_crypto_load_error() { throw ACMEError(.crypto, String(cString: reason)) }
            throw ACMEError(.crypto, "not a PEM certificate")
        }
        notBefore = Date(timeIntervalSince1970: TimeInterval(info.not_before))
        notAfter = Date(timeIntervalSince1970: TimeInterval(info.not_after))
        var serialBytes = withUnsafeBytes(of: info.serial) { Array($0.prefix(Int(info.serial_length))) }
        if let first = serialBytes.first, first & 0x80 != 0 { serialBytes.insert(0, at: 0) }
        serial = serialBytes
        authorityKeyIdentifier = withUnsafeBytes(of: info.authority_key_id) { Array($0.prefix(Int(info.authority_key_id_length))) }
    }

    /// The serial as uppercase hex, as `openssl x509 -serial` prints it:
    /// whole bytes, without the DER sign byte.
    public var serialHex: String {
        let bytes = serial.drop { $0 == 0 }
        return bytes.isEmpty ? "00" : bytes.map { String(format: "%02X", $0) }.joined()
    }

    /// RFC 9773 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial).
    public var renewalInfoID: String? {
        authorityKeyIdentifier.isEmpty ? nil : Self.renewalInfoID(authorityKeyIdentifier: authorityKeyIdentifier, serial: serial)
    }

    /// RFC 9773 §4.1 from its two parts (serial in DER content form).
    public static func renewalInfoID(authorityKeyIdentifier: [UInt8], serial: [UInt8]) -> String {
        "\(Base64URL.encode(authorityKeyIdentifier)).\(Base64URL.encode(serial))"
    }

    /// When to renew without ARI: two thirds into the lifetime.
    public var defaultRenewalTime: Date {
        notBefore.addingTimeInterval(notAfter.timeIntervalSince(notBefore) * 2 / 3)
    }
}
