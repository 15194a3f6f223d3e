import Crypto
import Foundation

/// RFC 7515 flattened JSON serialisation, as RFC 8555 §6.2 requires.
enum JWS {
    /// A JWS over `payload` (nil: the empty payload of POST-as-GET) with a
    /// protected header of `alg`, `nonce`, `url` and either `jwk` or `kid`.
    static func sign(payload: [UInt8]?, url: String, nonce: String, key: PrivateKey, kid: String?) throws(ACMEError) -> [UInt8] {
        var header: [String: Any] = ["alg": key.jwsAlgorithm, "nonce": nonce, "url": url]
        if let kid { header["kid"] = kid } else { header["jwk"] = key.jwk }
        let protected = Base64URL.encode(try json(header))
        let body = payload.map { Base64URL.encode($0) } ?? ""
        let signature = try key.sign(Array("\(protected).\(body)".utf8))
        return try json(["protected": protected, "payload": body, "signature": Base64URL.encode(signature)])
    }

    /// RFC 8555 §7.3.4: the account JWK signed with the CA-issued MAC key
    /// (HS256), bound to the newAccount URL.
    static func externalAccountBinding(accountKey: PrivateKey, kid: String, macKey: [UInt8], url: String) throws(ACMEError) -> [String: String] {
        let protected = Base64URL.encode(try json(["alg": "HS256", "kid": kid, "url": url]))
        let payload = Base64URL.encode(Array(accountKey.canonicalJWK.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(protected).\(payload)".utf8), using: SymmetricKey(data: macKey))
        return ["protected": protected, "payload": payload, "signature": Base64URL.encode(Data(mac))]
    }

    static func json(_ object: Any) throws(ACMEError) -> [UInt8] {
        do {
            return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
        } catch {
            throw ACMEError(.crypto, "encoding JSON: \(error)")
        }
    }
}
