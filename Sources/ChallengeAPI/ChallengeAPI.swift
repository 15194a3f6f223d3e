import Crypto
import DNSWire
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus
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

    /// - Parameter registry: served at `/metrics` when given.
    public init(store: ZoneRecordStore, configuration: ChallengeAPIConfiguration, registry: PrometheusCollectorRegistry? = nil,
                verifier: SecretVerifier = SecretVerifier(), logger: Logger = Logger(label: "cdnsd.api")) {
        self.store = store
        self.configuration = configuration
        self.verifier = verifier
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
        let hash = try await SecretGenerator.hash(password, cost: configuration.bcryptCost)
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
        guard let user = request.headers[.xAPIUser], let key = request.headers[.xAPIKey] else {
            throw authFailure(.forbidden("X-Api-User or X-Api-Key missing"), api: "acme-dns", context: context)
        }
        guard let account = store.account(username: user),
              await verifier.verify(user: "account:\(user)", secret: key, hash: account.passwordHash) else {
            throw authFailure(.forbidden("unknown user or wrong key for \(user)"), api: "acme-dns", context: context)
        }
        if !account.allowFrom.isEmpty, !account.allowFrom.compactMap(IPNetwork.init).contains(client) {
            throw authFailure(.forbidden("\(client) is outside allowfrom of \(user)"), api: "acme-dns", context: context)
        }
        var request = request
        let body = try await JSONBody.read(&request, limit: configuration.maxBodySize)
        guard let subdomain = body.string("subdomain"), Self.isValidSubdomain(subdomain) else {
            throw APIError(.badRequest, "bad_subdomain")
        }
        guard subdomain.lowercased() == account.subdomain.lowercased() else {
            throw authFailure(.forbidden("\(user) may not update subdomain \(subdomain)"), api: "acme-dns", context: context)
        }
        guard let txt = body.string("txt"), Self.isValidTXT(txt) else { throw APIError.badTXT }
        guard let accountDomain = configuration.accountDomain, let name = try? DNSName(subdomain, origin: accountDomain) else {
            throw APIError(.badRequest, "bad_subdomain")
        }
        try await publish(name: name, value: txt, owner: "account:\(user)")
        metrics.updates.increment()
        context.logger.info("challenge published", metadata: ["name": "\(name)", "owner": "account:\(user)", "client": "\(client)"])
        return json(.ok, ["txt": txt])
    }

    func health() async throws -> Response {
        do {
            try await store.checkHealth()
        } catch {
            throw APIError(.serviceUnavailable, "store_unavailable", detail: error.description)
        }
        return json(.ok, ["status": "ok"])
    }

    // MARK: lego httpreq

    func httpreq(_ request: Request, context: APIRequestContext, cleanup: Bool) async throws -> Response {
        let client = try clientAddress(request, context: context)
        guard let (user, secret) = Self.basicCredentials(request.headers) else {
            throw authFailure(APIError(.unauthorized, "forbidden", detail: "no basic auth"), api: "httpreq", context: context)
        }
        guard let credential = store.credential(name: user),
              await verifier.verify(user: "credential:\(user)", secret: secret, hash: credential.secretHash) else {
            throw authFailure(APIError(.unauthorized, "forbidden", detail: "unknown credential or wrong secret for \(user)"), api: "httpreq", context: context)
        }
        if !credential.allowedSources.isEmpty, !credential.allowedSources.compactMap(IPNetwork.init).contains(client) {
            throw authFailure(APIError(.forbidden, "forbidden_source", detail: "\(client) is outside the sources of \(user)"), api: "httpreq", context: context)
        }
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
            value = Data(SHA256.hash(data: Data(keyAuth.utf8))).base64URLEncodedString()
        } else {
            throw APIError(.badRequest, "bad_fqdn", detail: "the body needs fqdn and value, or domain, token and keyAuth")
        }
        guard let name = try? DNSName(fqdnText), !name.isRoot, !name.labels.contains(where: { $0.contains(UInt8(ascii: "*")) }) else {
            throw APIError(.badRequest, "bad_fqdn", detail: "\(fqdnText) is not a domain name")
        }
        guard Self.isValidTXT(value) else { throw APIError.badTXT }
        guard await store.snapshot().zone(containing: name) != nil else {
            throw APIError(.badRequest, "fqdn_outside_zones", detail: "\(name) is in no zone served here")
        }
        guard credential.allowedNames.compactMap(NamePattern.init).contains(where: { $0.allows(challengeName: name) }) else {
            throw authFailure(APIError(.forbidden, "forbidden_name", detail: "\(name) is outside the names of \(user)"), api: "httpreq", context: context)
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

    func publish(name: DNSName, value: String, owner: String) async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let challenge = ChallengeRecord(name: name, value: value, owner: owner, createdAt: now, expiresAt: now + configuration.challengeLifetime)
        try await storeCall { () throws(ZoneStoreError) in try await store.addChallenge(challenge) }
    }

    /// Runs a store call, mapping its error to a status once, here.
    func storeCall<T>(_ body: () async throws(ZoneStoreError) -> T) async throws(APIError) -> T {
        do {
            return try await body()
        } catch {
            switch error.code {
            case .outOfZone, .noSuchZone: throw APIError(.badRequest, "fqdn_outside_zones", detail: error.description)
            case .cnameConflict, .conflict: throw APIError(.conflict, "conflict", detail: error.description)
            case .badRecord: throw APIError(.badRequest, "bad_record", detail: error.description)
            default:
                logger.error("store write failed", metadata: ["error": "\(error)"])
                throw APIError(.serviceUnavailable, "store_unavailable", detail: error.description)
            }
        }
    }

    func clientAddress(_ request: Request, context: APIRequestContext) throws(APIError) -> IPAddress {
        guard let peer = context.remoteAddress.flatMap(IPAddress.init) else {
            throw APIError(.badRequest, "unknown_client", detail: "no peer address")
        }
        return try clients.client(peer: peer, headers: request.headers)
    }

    func authFailure(_ error: APIError, api: String, context: APIRequestContext) -> APIError {
        (api == "httpreq" ? metrics.httpreqAuthFailures : metrics.acmeDNSAuthFailures).increment()
        context.logger.notice("request refused", metadata: ["api": "\(api)", "reason": "\(error.detail)"])
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

extension Data {
    /// RFC 4648 §5 without padding: how ACME writes digests.
    func base64URLEncodedString() -> String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
