import COpenSSL
import Crypto
import Foundation

/// An account or certificate key held by OpenSSL: EC P-256 (the default)
/// or RSA 2048/3072, read from and written to PEM, with its JWK, RFC 7638
/// thumbprint and JWS signatures.
public final class PrivateKey: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is only read after init, and OpenSSL allows
    // concurrent signing with one key.
    let key: OpaquePointer

    public enum Algorithm: String, Sendable, CaseIterable {
        case p256 = "ec-p256", rsa2048 = "rsa-2048", rsa3072 = "rsa-3072"
    }

    /// Generates a new key.
    public init(generating algorithm: Algorithm = .p256) throws(ACMEError) {
        let generated: OpaquePointer? = switch algorithm {
        case .p256: cdns_generate_p256()
        case .rsa2048: cdns_generate_rsa(2048)
        case .rsa3072: cdns_generate_rsa(3072)
        }
        guard let generated else { throw Self.failure("generating a \(algorithm.rawValue) key") }
        key = generated
    }

    /// Reads a PEM private key (PKCS#8, SEC1 or PKCS#1).
    public init(pem: String) throws(ACMEError) {
        let bytes = Array(pem.utf8)
        guard let read = cdns_key_from_pem(bytes, bytes.count) else { throw Self.failure("reading a PEM private key") }
        guard cdns_key_kind(read) != CDNS_KEY_OTHER else {
            cdns_key_free(read)
            throw ACMEError(.crypto, "only EC P-256 and RSA keys are supported")
        }
        key = read
    }

    deinit { cdns_key_free(key) }

    var isEC: Bool { cdns_key_kind(key) == CDNS_KEY_EC }

    /// Unencrypted PKCS#8 PEM; store it at mode 0600.
    public var pem: String {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        guard cdns_key_to_pem(key, &out, &length) == 1, let out else { return "" }
        defer { free(out) }
        return String(decoding: UnsafeBufferPointer(start: out, count: length), as: UTF8.self)
    }

    /// The JWS `alg` for this key.
    public var jwsAlgorithm: String { isEC ? "ES256" : "RS256" }

    private func parameter(_ name: String, pad: Int32 = 0) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let length = cdns_key_bn_param(key, name, &buffer, Int32(buffer.count), pad)
        return length > 0 ? Array(buffer[0..<Int(length)]) : []
    }

    /// The public JWK's required members (RFC 7517/7518), which are also
    /// what the RFC 7638 thumbprint hashes.
    public var jwk: [String: String] {
        if isEC {
            return ["kty": "EC", "crv": "P-256", "x": Base64URL.encode(parameter("qx", pad: 32)), "y": Base64URL.encode(parameter("qy", pad: 32))]
        }
        return ["kty": "RSA", "n": Base64URL.encode(parameter("n")), "e": Base64URL.encode(parameter("e"))]
    }

    /// The JWK as RFC 7638 canonical JSON: required members only, sorted,
    /// no whitespace.
    public var canonicalJWK: String { Self.canonicalJSON(jwk) }

    /// RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)).
    public var thumbprint: String { Self.thumbprint(jwk: jwk) }

    /// The RFC 7638 thumbprint of a JWK's required members.
    public static func thumbprint(jwk: [String: String]) -> String {
        Base64URL.sha256(canonicalJSON(jwk))
    }

    static func canonicalJSON(_ members: [String: String]) -> String {
        "{" + members.keys.sorted().map { "\"\($0)\":\"\(members[$0] ?? "")\"" }.joined(separator: ",") + "}"
    }

    /// A JWS signature over `data` (ES256: raw r‖s; RS256: PKCS#1 v1.5).
    public func sign(_ data: [UInt8]) throws(ACMEError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 1024)
        let length = cdns_sign_sha256(key, data, data.count, &out, out.count)
        guard length > 0 else { throw Self.failure("signing") }
        return Array(out[0..<Int(length)])
    }

    static func failure(_ what: String) -> ACMEError {
        var buffer = [CChar](repeating: 0, count: 256)
        cdns_last_error(&buffer, buffer.count)
        return ACMEError(.crypto, "\(what): \(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
    }
}
