import ZoneStore
import DNSWire

/// What the challenge API needs to know beyond the store.
public struct ChallengeAPIConfiguration: Sendable {
    /// Whether `POST /register` is open (acme-dns behaviour) or refused.
    public var registration: Bool
    /// The zone under which acme-dns accounts get their subdomain:
    /// an account's `fulldomain` is `<subdomain>.<accountDomain>`. Without
    /// one, registration is refused.
    public var accountDomain: DNSName?
    /// Peers whose X-Forwarded-For is believed.
    public var trustedProxies: [IPNetwork]
    /// Origins browsers may call the API from; `*` for any.
    public var corsOrigins: [String]
    /// Largest request body read; larger ones get 413.
    public var maxBodySize: Int
    /// Seconds a published challenge value lives before it is removed.
    public var challengeLifetime: Int64
    /// bcrypt cost for new passwords and secrets (acme-dns uses 10).
    public var bcryptCost: UInt8
    /// Connection cap and per-phase deadlines.
    public var connections: APIConnectionSettings
    /// Failed authentications (each costs a bcrypt check) per client source
    /// and minute, saved up to the same number; 0: no limit.
    public var authFailuresPerMinute: Int
    /// `POST /register` calls per client source and minute; 0: no limit.
    public var registrationsPerMinute: Int
    /// Accounts `/register` creates at most (counting every account); 0: no cap.
    public var maxAccounts: Int
    /// Threads that run bcrypt (verifications and `/register` hashes).
    public var bcryptThreads: Int
    /// bcrypt runs waiting for a thread at most; beyond, 429.
    public var bcryptQueue: Int

    public init(
        accountDomain: DNSName?, registration: Bool = true, trustedProxies: [IPNetwork] = [], corsOrigins: [String] = [],
        maxBodySize: Int = 16 * 1024, challengeLifetime: Int64 = 3600, bcryptCost: UInt8 = 10,
        connections: APIConnectionSettings = APIConnectionSettings(), authFailuresPerMinute: Int = 30,
        registrationsPerMinute: Int = 30, maxAccounts: Int = 0, bcryptThreads: Int = 1, bcryptQueue: Int = 32
    ) {
        self.accountDomain = accountDomain
        self.registration = registration
        self.trustedProxies = trustedProxies
        self.corsOrigins = corsOrigins
        self.maxBodySize = maxBodySize
        self.challengeLifetime = challengeLifetime
        self.bcryptCost = bcryptCost
        self.connections = connections
        self.authFailuresPerMinute = authFailuresPerMinute
        self.registrationsPerMinute = registrationsPerMinute
        self.maxAccounts = maxAccounts
        self.bcryptThreads = bcryptThreads
        self.bcryptQueue = bcryptQueue
    }
}
