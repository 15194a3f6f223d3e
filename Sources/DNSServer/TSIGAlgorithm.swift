import COpenSSL
import DNSWire

/// The HMAC algorithms of TSIG (RFC 8945 §6), computed by the system's
/// OpenSSL.
public enum TSIGAlgorithm: Int, Sendable, CaseIterable, CustomStringConvertible {
    case hmacMD5 = 0
    case hmacSHA1 = 1
    case hmacSHA224 = 2
    case hmacSHA256 = 3
    case hmacSHA384 = 4
    case hmacSHA512 = 5

    /// The algorithm's name as TSIG records carry it.
    public var name: DNSName {
        switch self {
        case .hmacMD5: "hmac-md5.sig-alg.reg.int."
        case .hmacSHA1: "hmac-sha1."
        case .hmacSHA224: "hmac-sha224."
        case .hmacSHA256: "hmac-sha256."
        case .hmacSHA384: "hmac-sha384."
        case .hmacSHA512: "hmac-sha512."
        }
    }

    /// `hmac-sha256` and friends, as BIND, Knot, certbot and lego spell them.
    public var description: String {
        self == .hmacMD5 ? "hmac-md5" : name.presentationWithoutDot
    }

    /// Finds the algorithm a TSIG record or a key names; nil for unknown ones.
    public init?(name: DNSName) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Parses `hmac-sha256`, `HMAC-SHA256`, `hmac-sha256.` or `hmac-md5`.
    public init?(text: String) {
        let lower = text.lowercased()
        let bare = lower.hasSuffix(".") ? String(lower.dropLast()) : lower
        if bare == "hmac-md5" || bare == "hmac-md5.sig-alg.reg.int" {
            self = .hmacMD5
            return
        }
        guard let match = Self.allCases.first(where: { $0.description == bare }) else { return nil }
        self = match
    }

    /// Bytes of the untruncated MAC.
    public var digestLength: Int {
        switch self {
        case .hmacMD5: 16
        case .hmacSHA1: 20
        case .hmacSHA224: 28
        case .hmacSHA256: 32
        case .hmacSHA384: 48
        case .hmacSHA512: 64
        }
    }

    /// The shortest truncated MAC RFC 8945 §5.2.2.1 lets a signer send:
    /// anything shorter is a FORMERR.
    public var minimumMACLength: Int { max(10, digestLength / 2) }

    /// MD5 and SHA-1 are accepted for old clients only.
    public var isWeak: Bool { self == .hmacMD5 || self == .hmacSHA1 }

    /// Why no MAC can be computed: libcrypto.so.3, which COpenSSL opens on
    /// first use, could not be loaded. Nil when it is loaded (this loads it).
    public static var unavailableReason: String? {
        cdns_crypto_load_error().map { String(cString: $0) }
    }

    /// HMAC of `data` under `secret`; empty when libcrypto is unavailable.
    public func mac(secret: [UInt8], data: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 64)
        let length = secret.withUnsafeBufferPointer { key in
            data.withUnsafeBufferPointer { bytes in
                output.withUnsafeMutableBufferPointer { out in
                    cdns_hmac(Int32(rawValue), key.baseAddress, key.count, bytes.baseAddress, bytes.count, out.baseAddress)
                }
            }
        }
        // OpenSSL fails only without memory or a digest; an empty MAC never verifies.
        return length > 0 ? Array(output[0..<Int(length)]) : []
    }
}

/// Compares MACs in time that depends only on their length.
func constantTimeEqual(_ a: [UInt8], _ b: ArraySlice<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    let b = Array(b)
    return a.withUnsafeBufferPointer { left in
        b.withUnsafeBufferPointer { right in cdns_constant_time_compare(left.baseAddress, right.baseAddress, left.count) == 0 }
    }
}
