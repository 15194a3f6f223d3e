import DNSWire

/// A TXT value published for an ACME dns-01 challenge: any number per name,
/// each owned by the account or credential that wrote it, and removed on its
/// own once it expires so that forgotten cleanups do not pile up.
public struct ChallengeRecord: Sendable, Hashable {
    /// `_acme-challenge.www.svc.dev.` or an acme-dns account's full domain.
    public var name: DNSName
    /// The TXT value, 43 characters for ACME.
    public var value: String
    /// The acme-dns username or API credential name that wrote it.
    public var owner: String
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds after which the record is removed.
    public var expiresAt: Int64

    public init(name: DNSName, value: String, owner: String, createdAt: Int64, expiresAt: Int64) {
        self.name = name
        self.value = value
        self.owner = owner
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// An acme-dns account: its credentials and the one subdomain it may update.
public struct Account: Sendable, Hashable {
    public var username: String
    /// bcrypt (`$2a$…`), as acme-dns stores it.
    public var passwordHash: String
    /// The label under the zone, e.g. a UUID.
    public var subdomain: String
    /// CIDRs updates may come from; empty allows all.
    public var allowFrom: [String]

    public init(username: String, passwordHash: String, subdomain: String, allowFrom: [String]) {
        self.username = username
        self.passwordHash = passwordHash
        self.subdomain = subdomain
        self.allowFrom = allowFrom
    }
}

/// A credential for the lego httpreq API: which names it may publish
/// challenges for and from where.
public struct APICredential: Sendable, Hashable {
    public var name: String
    /// bcrypt of the secret.
    public var secretHash: String
    /// Name patterns such as `*.team.svc.dev`.
    public var allowedNames: [String]
    /// CIDRs requests may come from; empty allows all.
    public var allowedSources: [String]

    public init(name: String, secretHash: String, allowedNames: [String], allowedSources: [String]) {
        self.name = name
        self.secretHash = secretHash
        self.allowedNames = allowedNames
        self.allowedSources = allowedSources
    }
}

/// A TSIG key (RFC 8945) and what it may be used for. The secret is kept
/// as the raw bytes HMAC needs (TSIG cannot work from a hash of it), so the
/// store's file or database is as sensitive as a BIND key file.
public struct TSIGKey: Sendable, Hashable {
    /// The key name as clients send it, e.g. `certbot.`.
    public var name: DNSName
    /// `hmac-sha256.` and friends (RFC 8945 §6).
    public var algorithm: DNSName
    public var secret: [UInt8]
    /// Name patterns (`*.svc.dev`, `svc.dev`, `*`) the key may change.
    public var allowedNames: [String]
    /// CIDRs signed messages may come from; empty allows all.
    public var allowedSources: [String]
    /// Record types the key may add or delete; TXT by default.
    public var allowedTypes: [RRType]
    /// Only `_acme-challenge.` names below the allowed names (the default
    /// scope); false lets the key change the allowed names themselves.
    public var challengeNamesOnly: Bool
    /// A key for zone transfers only: it may sign AXFR/IXFR and NOTIFY, never an UPDATE.
    public var transferOnly: Bool
    /// hmac-md5 is broken: a key made for it is refused (BADKEY) unless
    /// this is set, for old clients that know nothing better.
    public var allowMD5: Bool

    public init(name: DNSName, algorithm: DNSName, secret: [UInt8], allowedNames: [String] = [], allowedSources: [String] = [],
                allowedTypes: [RRType] = [.txt], challengeNamesOnly: Bool = true, transferOnly: Bool = false, allowMD5: Bool = false) {
        self.name = name
        self.algorithm = algorithm
        self.secret = secret
        self.allowedNames = allowedNames
        self.allowedSources = allowedSources
        self.allowedTypes = allowedTypes
        self.challengeNamesOnly = challengeNamesOnly
        self.transferOnly = transferOnly
        self.allowMD5 = allowMD5
    }
}
