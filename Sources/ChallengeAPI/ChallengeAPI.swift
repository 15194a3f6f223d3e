import ACMEClient
import DNSWire
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Synchronization
import ZoneStore

/// The challenge REST API: acme-dns's `/register`, `/update` and `/health`,
/// lego's httpreq `/present` and `/cleanup`, and `/metrics`.
///
/// Every write is answered only once the store has made it durable and
/// every DNS event loop serves it.
public struct ChallengeAPI: Sendable {
    public let store: ZoneRecordStore
    public let configuration: ChallengeAPIConfiguration
    public let verifier: SecretVerifier
    let clients: ClientAddressResolver
    let metrics: APIMetrics
    let registry: PrometheusCollectorRegistry?
    let logger: Logger
    /// Failed authentications per client source.
    let authLimiter: SourceRateLimiter
    /// `/register` calls per client source.
    let registerLimiter: SourceRateLimiter
    /// Which sources failed lately: their bcrypt checks wait in the second lane.
    let standing = SourceStanding()
    /// Whether the last store write failed, for `/health`.
    let writes = WriteHealth()

    /// - Parameters:
    ///   - registry: served at `/metrics` when given.
    ///   - verifier: by default one with a bcrypt pool of `configuration.bcryptThreads`.
    public init(store: ZoneRecordStore, configuration: ChallengeAPIConfiguration, registry: PrometheusCollectorRegistry? = nil,
                verifier: SecretVerifier? = nil, logger: Logger = Logger(label: "cdnsd.api")) {
        self.store = store
        self.configuration = configuration
        self.verifier = verifier ?? SecretVerifier(
            pool: BcryptPool(threads: configuration.bcryptThreads, queue: configuration.bcryptQueue), dummyCost: configuration.bcryptCost)
        authLimiter = SourceRateLimiter(perMinute: configuration.authFailuresPerMinute)
        registerLimiter = SourceRateLimiter(perMinute: configuration.registrationsPerMinute)
        self.clients = ClientAddressResolver(trustedProxies: configuration.trustedProxies)
        self.metrics = APIMetrics()
        self.registry = registry
        self.logger = logger
    }

    /// The router with every endpoint and the middleware that logs, counts,
    /// answers CORS and turns every error into a JSON body.
    public func router() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: LogRequestsMiddleware(.info))
        router.add(middleware: MetricsMiddleware())
        if !configuration.corsOrigins.isEmpty {
            router.add(middleware: CORSOriginsMiddleware(origins: configuration.corsOrigins))
        }
        router.add(middleware: JSONErrorMiddleware())
        router.post("/register") { request, context in try await register(request, context: context) }
        router.post("/update") { request, context in try await update(request, context: context) }
        router.get("/health") { _, _ in try await health() }
        router.post("/present") { request, context in try await httpreq(request, context: context, cleanup: false) }
        router.post("/cleanup") { request, context in try await httpreq(request, context: context, cleanup: true) }
        addAdminRoutes(to: router)
        if let registry {
            router.get("/metrics") { _, _ in
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            }
        }
        return router
    }

    // MARK: acme-dns

    func register(_ request: Request, context: APIRequestContext) async throws -> Response {
        guard configuration.registration, let accountDomain = configuration.accountDomain else {
            throw APIError(.forbidden, "registration_disabled", detail: "[api] registration = false or no account domain")
        }
        let client = try clientAddress(request, context: context)
        if let retry = registerLimiter.take(client) {
            metrics.limitedRegister.increment()
            throw APIError.rateLimited(retryAfter: retry, "\(client) registered too often (registrations_per_minute = \(configuration.registrationsPerMinute))")
        }
        if configuration.maxAccounts > 0, store.view().accounts.count >= configuration.maxAccounts {
            metrics.accountCapReached.increment()
            throw APIError(.forbidden, "account_limit", detail: "max_accounts = \(configuration.maxAccounts) reached")
        }
        var request = request
        let body = try await JSONBody.read(&request, limit: configuration.maxBodySize, emptyIsObject: true)
        let invalidCIDR = APIError(.badRequest, "invalid_allowfrom_cidr")
        let allowFrom = try body.strings("allowfrom", error: invalidCIDR) ?? []
        for cidr in allowFrom where IPNetwork(cidr) == nil {
            throw APIError(.badRequest, "invalid_allowfrom_cidr", detail: "\(cidr) is not a CIDR")
        }
        let username = SecretGenerator.uuid()
        let subdomain = SecretGenerator.uuid()
        let password = SecretGenerator.password()
        guard let hash = await SecretGenerator.hash(password, cost: configuration.bcryptCost, on: verifier.pool) else {
            metrics.limitedBcrypt.increment()
            throw APIError.rateLimited(retryAfter: 1, "the bcrypt pool is full")
        }
        try await storeCall { () throws(ZoneStoreError) in
            try await store.putAccount(Account(username: username, passwordHash: hash, subdomain: subdomain, allowFrom: allowFrom))
        }
        metrics.registrations.increment()
        let fulldomain = "\(subdomain).\(accountDomain.presentationWithoutDot)"
        context.logger.info("account registered", metadata: ["username": "\(username)", "fulldomain": "\(fulldomain)", "allowfrom": "\(allowFrom)"])
        return json(.created, ["username": username, "password": password, "fulldomain": fulldomain, "subdomain": subdomain, "allowfrom": allowFrom])
    }

    func update(_ request: Request, context: APIRequestContext) async throws -> Response {
        let client = try clientAddress(request, context: context)
        let (user, key) = try credentials(.acmeDNS, request.headers[.xAPIUser], request.headers[.xAPIKey], context: context)
        let found = store.account(username: user)
        try await authenticate(.acmeDNS, user: user, secret: key, hash: found?.passwordHash, sources: found?.allowFrom ?? [], client: client, context: context)
        guard let account = found else { throw APIError.internalError }
        var request = request
        let body = try await JSONBody.read(&request, limit: configuration.maxBodySize)
        guard let subdomain = body.string("subdomain"), Self.isValidSubdomain(subdomain) else {
            throw APIError(.badRequest, "bad_subdomain")
        }
        guard subdomain.lowercased() == account.subdomain.lowercased() else {
            throw authFailure(.forbidden("\(user) may not update subdomain \(subdomain)"), api: .acmeDNS, context: context)
        }
        guard let txt = body.string("txt"), Self.isValidTXT(txt) else { throw APIError.badTXT }
        guard let accountDomain = configuration.accountDomain, let name = try? DNSName(subdomain, origin: accountDomain) else {
            throw APIError(.badRequest, "bad_subdomain")
        }
        try await publish(name: name, value: txt, owner: "account:\(user)", evictingOldest: true)
        metrics.updates.increment()
        context.logger.info("challenge published", metadata: ["name": "\(name)", "owner": "account:\(user)", "client": "\(client)"])
        return json(.ok, ["txt": txt])
    }

    func health() async throws -> Response {
        do {
            try await store.checkHealth()
        } catch {
            // Degraded, not down: DNS keeps answering from the last snapshot.
            logger.warning("health: store unavailable", metadata: ["error": "\(error)"])
            return json(.serviceUnavailable, ["status": "degraded", "error": "store_unavailable", "dns": "serving the last snapshot"])
        }
        // The store reads, but its last write failed (a full or read-only disk): degraded too.
        if writes.failing {
            return json(.serviceUnavailable, ["status": "degraded", "error": "store_writes_failing", "dns": "serving the last snapshot"])
        }
        return json(.ok, ["status": "ok"])
    }

    // MARK: lego httpreq

    func httpreq(_ request: Request, context: APIRequestContext, cleanup: Bool) async throws -> Response {
        let client = try clientAddress(request, context: context)
        let basic = Self.basicCredentials(request.headers)
        let (user, secret) = try credentials(.httpreq, basic?.0, basic?.1, context: context)
        let found = store.credential(name: user)
        try await authenticate(.httpreq, user: user, secret: secret, hash: found?.secretHash, sources: found?.allowedSources ?? [], client: client, context: context)
        guard let credential = found else { throw APIError.internalError }
        var request = request
        let body = try await JSONBody.read(&request, limit: configuration.maxBodySize)
        let fqdnText: String
        let value: String
        if let fqdn = body.string("fqdn") {
            guard let text = body.string("value") else { throw APIError.badTXT }
            fqdnText = fqdn
            value = text
        } else if let domain = body.string("domain") {
            guard let keyAuth = body.string("keyauth"), !keyAuth.isEmpty else {
                throw APIError(.badRequest, "bad_keyauth", detail: "RAW mode needs keyAuth")
            }
            fqdnText = "_acme-challenge.\(domain.hasPrefix("*.") ? String(domain.dropFirst(2)) : domain)"
            value = ACMEClient.dns01Value(keyAuthorization: keyAuth)
        } else {
            throw APIError(.badRequest, "bad_fqdn", detail: "the body needs fqdn and value, or domain, token and keyAuth")
        }
        guard let name = try? DNSName(fqdnText), !name.isRoot, !name.labels.contains(where: { $0.contains(UInt8(ascii: "*")) }) else {
            throw APIError(.badRequest, "bad_fqdn", detail: "\(fqdnText) is not a domain name")
        }
        guard Self.isValidTXT(value) else { throw APIError.badTXT }
        guard store.snapshot().zone(containing: name) != nil else {
            throw APIError(.badRequest, "fqdn_outside_zones", detail: "\(name) is in no zone served here")
        }
        guard credential.allowedNames.compactMap(NamePattern.init).contains(where: { $0.allows(challengeName: name) }) else {
            throw authFailure(APIError(.forbidden, "forbidden_name", detail: "\(name) is outside the names of \(user)"), api: .httpreq, context: context)
        }
        let owner = "credential:\(user)"
        if cleanup {
            let removed = try await storeCall { () throws(ZoneStoreError) -> Bool in try await store.removeChallenge(name: name, value: value) }
            metrics.cleanups.increment()
            context.logger.info(removed ? "challenge removed" : "challenge to remove was not there", metadata: ["name": "\(name)", "owner": "\(owner)", "client": "\(client)"])
        } else {
            try await publish(name: name, value: value, owner: owner)
            metrics.presents.increment()
            context.logger.info("challenge published", metadata: ["name": "\(name)", "owner": "\(owner)", "client": "\(client)"])
        }
        return json(.ok, ["fqdn": name.description, "value": value])
    }

    // MARK: Helpers

    /// Stores a challenge value. acme-dns `/update` evicts the oldest values
    /// at a full name (its clients never delete); the others get 409.
    func publish(name: DNSName, value: String, owner: String, evictingOldest: Bool = false) async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let challenge = ChallengeRecord(name: name, value: value, owner: owner, createdAt: now, expiresAt: now + configuration.challengeLifetime)
        try await storeCall { () throws(ZoneStoreError) in try await store.addChallenge(challenge, evictingOldest: evictingOldest) }
    }

    /// Runs a store call, mapping its error to a status once, here.
    func storeCall<T>(_ body: () async throws(ZoneStoreError) -> T) async throws(APIError) -> T {
        do {
            let result = try await body()
            writes.succeeded()
            return result
        } catch {
            switch error.code {
            case .outOfZone, .noSuchZone: throw APIError(.badRequest, "fqdn_outside_zones", detail: error.description)
            case .cnameConflict, .conflict: throw APIError(.conflict, "conflict", detail: error.description)
            case .badRecord: throw APIError(.badRequest, "bad_record", detail: error.description)
            case .limitReached: throw APIError(.conflict, "too_many_values", detail: error.description)
            default:
                logger.error("store write failed", metadata: ["error": "\(error)"])
                metrics.storeUnavailable.increment()
                writes.failed()
                throw APIError(.serviceUnavailable, "store_unavailable", detail: error.description, retryAfter: 5)
            }
        }
    }

    func clientAddress(_ request: Request, context: APIRequestContext) throws(APIError) -> IPAddress {
        guard let peer = context.remoteAddress.flatMap(IPAddress.init) else {
            throw APIError(.badRequest, "unknown_client", detail: "no peer address")
        }
        return try clients.client(peer: peer, headers: request.headers)
    }

    /// How each API authenticates, and how it refuses.
    enum AuthScheme: String {
        /// `X-Api-User` / `X-Api-Key` of an account: every refusal is 401 `forbidden`, as acme-dns answers.
        case acmeDNS = "acme-dns"
        /// HTTP basic auth with a credential: 401 `forbidden`, or 403 `forbidden_source` for a disallowed client.
        case httpreq

        /// The secret cache's namespace.
        var prefix: String { self == .acmeDNS ? "account" : "credential" }

        func badSecret(_ detail: String) -> APIError { APIError(.unauthorized, "forbidden", detail: detail) }

        func badSource(_ detail: String) -> APIError {
            self == .acmeDNS ? APIError(.unauthorized, "forbidden", detail: detail) : APIError(.forbidden, "forbidden_source", detail: detail)
        }
    }

    /// The user and secret a request presents, or the scheme's refusal.
    func credentials(_ scheme: AuthScheme, _ user: String?, _ secret: String?, context: APIRequestContext) throws(APIError) -> (String, String) {
        guard let user, let secret else {
            throw authFailure(scheme.badSecret(scheme == .acmeDNS ? "X-Api-User or X-Api-Key missing" : "no basic auth"), api: scheme, context: context)
        }
        return (user, secret)
    }

    /// The one authentication both APIs make: the client is inside the
    /// user's allowed sources (none listed: any), the user exists (`hash`
    /// is its stored hash) and the secret verifies against it.
    func authenticate(_ scheme: AuthScheme, user: String, secret: String, hash: String?, sources: [String],
                      client: IPAddress, context: APIRequestContext) async throws(APIError) {
        if !sources.isEmpty, !sources.compactMap(IPNetwork.init).contains(client) {
            // Refused before any bcrypt, but no sooner than a check would answer.
            await verifier.delayLikeACheck()
            throw authFailure(scheme.badSource("\(client) is outside the allowed sources of \(user)"), api: scheme, context: context)
        }
        switch await checkSecret(user: "\(scheme.prefix):\(user)", secret: secret, hash: hash, client: client) {
        case .verified: return
        case .rejected: throw authFailure(scheme.badSecret("unknown user or wrong secret for \(user)"), api: scheme, context: context)
        case .limited(let refusal): throw refusal
        }
    }

    /// Whether `secret` verifies against `hash` (nil: an unknown user, checked
    /// against a dummy hash all the same). A secret the cache knows passes at
    /// once; every other check takes a token from the client source's
    /// failed-authentication allowance first (given back when it verifies),
    /// and runs on the bcrypt pool, in the first lane when the source has
    /// not failed lately. Throws 429 when the allowance is spent or the
    /// lane is full.
    func checkSecret(user: String, secret: String, hash: String?, client: IPAddress) async -> SecretCheck {
        if verifier.isCached(user: user, secret: secret, hash: hash) { return .verified }
        if let retry = authLimiter.take(client) {
            metrics.limitedAuth.increment()
            return .limited(APIError.rateLimited(
                retryAfter: retry, "\(client) failed to authenticate too often (auth_failures_per_minute = \(configuration.authFailuresPerMinute))"))
        }
        let lane = standing.lane(for: client)
        let outcome = await verifier.check(user: user, secret: secret, hash: hash, lane: lane)
        standing.finished(client, lane: lane, failed: outcome == .rejected)
        switch outcome {
        case .verified:
            authLimiter.refund(client)
            return .verified
        case .rejected:
            return .rejected
        case .overloaded:
            authLimiter.refund(client)
            metrics.limitedBcrypt.increment()
            return .limited(APIError.rateLimited(retryAfter: 1, "the bcrypt pool is full"))
        }
    }

    /// What `checkSecret` found. (A result, not a typed throw: an async
    /// `throws(APIError) -> Bool` function crashed when it returned here.)
    enum SecretCheck {
        case verified, rejected
        case limited(APIError)
    }

    func authFailure(_ error: APIError, api: AuthScheme, context: APIRequestContext) -> APIError {
        (api == .httpreq ? metrics.httpreqAuthFailures : metrics.acmeDNSAuthFailures).increment()
        context.logger.notice("request refused", metadata: ["api": "\(api.rawValue)", "reason": "\(error.detail)"])
        return error
    }

    func json(_ status: HTTPResponse.Status, _ object: [String: any Sendable]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: JSONBody.encode(object)))
    }

    /// acme-dns accepts 43 characters of unpadded base64url: a SHA-256 digest.
    static func isValidTXT(_ text: String) -> Bool {
        text.utf8.count == 43 && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
    }

    /// One DNS label of letters, digits and hyphens (acme-dns uses UUIDs).
    static func isValidSubdomain(_ text: String) -> Bool {
        (1...63).contains(text.utf8.count) && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D
        }
    }

    /// `Authorization: Basic base64(user:secret)`.
    static func basicCredentials(_ headers: HTTPFields) -> (String, String)? {
        guard let value = headers[.authorization], value.count > 6, value.prefix(6).lowercased() == "basic " else { return nil }
        guard let data = Data(base64Encoded: String(value.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}

/// Whether the store's last write failed for want of storage (and not for
/// a client's mistake) in the last 30 s, with none succeeding since. A
/// window, so that a health check that takes cdnsd out of rotation does
/// not keep it out for want of writes that would show it recovered.
final class WriteHealth: Sendable {
    private let lastFailure = Mutex<ContinuousClock.Instant?>(nil)

    var failing: Bool {
        lastFailure.withLock { $0.map { $0.duration(to: .now) < .seconds(30) } ?? false }
    }
    func succeeded() { lastFailure.withLock { $0 = nil } }
    func failed() { lastFailure.withLock { $0 = .now } }
}
