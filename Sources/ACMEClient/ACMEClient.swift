import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// An RFC 8555 client: account, order, dns-01 through a `DNS01Solver`,
/// finalize with an OpenSSL CSR, and the PEM chain; with ARI (RFC 9773)
/// renewal windows when the CA offers them.
///
/// Nonces are reused from every response and a `badNonce` rejection is
/// retried with a fresh one (pebble rejects 5 % by default).
public actor ACMEClient {
    public let directoryURL: String
    public let accountKey: PrivateKey
    private let http: HTTPClient
    private let logger: Logger
    private var directoryCache: ACMEDirectory?
    private var nonces: [String] = []
    /// The account URL (`kid`) once known.
    public private(set) var accountURL: String?
    /// How many requests were sent again after a badNonce rejection.
    public private(set) var badNonceRetries = 0

    /// A client of the CA at `directoryURL`, signing as the account of `accountKey`.
    /// - Parameters:
    ///   - directoryURL: the CA's ACME directory, e.g. `https://ca.svc.dev/acme/acme/directory`.
    ///   - accountKey: the account's key; keep it to use the same account again.
    ///   - trustRoots: a PEM file of extra roots to trust for the
    ///     directory's HTTPS (a private CA such as Step-CA), besides the system's.
    ///   - logger: where requests and retries are logged.
    public init(directoryURL: String, accountKey: PrivateKey, trustRoots: String? = nil, logger: Logger = Logger(label: "acme")) throws(ACMEError) {
        self.directoryURL = directoryURL
        self.accountKey = accountKey
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        if let trustRoots, !trustRoots.isEmpty {
            guard FileManager.default.isReadableFile(atPath: trustRoots) else { throw ACMEError(.transport, "cannot read trust roots \(trustRoots)") }
            tls.additionalTrustRoots = [.file(trustRoots)]
        }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls, timeout: .init(connect: .seconds(10), read: .seconds(30))))
    }

    /// Closes the HTTP client; call it on every path.
    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: Directory and nonces

    public func directory() async throws(ACMEError) -> ACMEDirectory {
        if let directoryCache { return directoryCache }
        let response = try await send(.GET, directoryURL)
        guard response.status == 200, let json = response.json else {
            throw ACMEError(.transport, "directory \(directoryURL) answered \(response.status)", status: Int(response.status))
        }
        let directory = try ACMEDirectory(json: json)
        directoryCache = directory
        return directory
    }

    private func nonce() async throws(ACMEError) -> String {
        if let nonce = nonces.popLast() { return nonce }
        let response = try await send(.HEAD, try await directory().newNonce)
        guard let nonce = response.headers.first(name: "Replay-Nonce") else { throw ACMEError(.transport, "newNonce gave no Replay-Nonce") }
        return nonce
    }

    // MARK: Account

    /// Finds the account for this key, or creates it (agreeing to the
    /// terms). With `externalAccountBinding` (kid, base64url MAC key) when
    /// the CA requires EAB.
    @discardableResult
    public func account(email: String? = nil, externalAccountBinding: (kid: String, macKey: String)? = nil, onlyReturnExisting: Bool = false) async throws(ACMEError) -> String {
        let directory = try await directory()
        var payload: [String: Any] = ["termsOfServiceAgreed": true]
        if onlyReturnExisting { payload = ["onlyReturnExisting": true] }
        if let email, !email.isEmpty, !onlyReturnExisting { payload["contact"] = ["mailto:\(email)"] }
        if !onlyReturnExisting {
            if let binding = externalAccountBinding {
                guard let macKey = Base64URL.decode(binding.macKey) else { throw ACMEError(.crypto, "the EAB MAC key is not base64url") }
                payload["externalAccountBinding"] = try JWS.externalAccountBinding(accountKey: accountKey, kid: binding.kid, macKey: macKey, url: directory.newAccount)
            } else if directory.externalAccountRequired {
                throw ACMEError(.problem, "the CA requires external account binding: set eab_kid and eab_hmac_key", problemType: "urn:ietf:params:acme:error:externalAccountRequired")
            }
        }
        let response = try await post(directory.newAccount, payload: payload, useKID: false)
        guard response.status == 200 || response.status == 201, let location = response.headers.first(name: "Location") else {
            throw ACMEError(.transport, "newAccount answered \(response.status) without a Location", status: Int(response.status))
        }
        accountURL = location
        logger.debug("ACME account", metadata: ["url": "\(location)", "created": "\(response.status == 201)"])
        return location
    }

    // MARK: Orders

    /// Orders a certificate for `names` (wildcards allowed), solves every
    /// authorization with dns-01 through `solver`, finalizes with a CSR
    /// signed by `certificateKey`, and returns the PEM chain (leaf first).
    /// `progress` hears one line per step.
    public func issue(names: [String], certificateKey: PrivateKey, solver: any DNS01Solver,
                      progress: @Sendable (String) -> Void = { _ in }) async throws(ACMEError) -> String {
        if accountURL == nil { try await account() }
        let directory = try await directory()
        let identifiers = names.map { ["type": "dns", "value": $0] }
        let created = try await post(directory.newOrder, payload: ["identifiers": identifiers])
        guard created.status == 201, let orderURL = created.headers.first(name: "Location"), var order = created.json else {
            throw ACMEError(.transport, "newOrder answered \(created.status)", status: Int(created.status))
        }
        progress("order \(orderURL) for \(names.joined(separator: ", "))")
        var published: [(name: String, value: String)] = []
        var challenges: [(authorization: String, url: String)] = []
        do throws(ACMEError) {
            for authorization in order["authorizations"] as? [String] ?? [] {
                let response = try await post(authorization, payload: nil)
                guard let json = response.json else { throw ACMEError(.transport, "authorization \(authorization) unreadable") }
                if json["status"] as? String == "valid" { continue }
                guard let domain = (json["identifier"] as? [String: Any])?["value"] as? String,
                      let dns01 = (json["challenges"] as? [[String: Any]])?.first(where: { $0["type"] as? String == "dns-01" }),
                      let token = dns01["token"] as? String, let url = dns01["url"] as? String else {
                    throw ACMEError(.invalid, "authorization \(authorization) offers no dns-01 challenge")
                }
                let value = Self.dns01Value(token: token, thumbprint: accountKey.thumbprint)
                let name = "_acme-challenge.\(domain)."
                do {
                    try await solver.present(name: name, value: value)
                } catch {
                    throw ACMEError(.solver, "publishing \(name): \(error)")
                }
                published.append((name, value))
                challenges.append((authorization, url))
                progress("published \(name) for \(json["wildcard"] as? Bool == true ? "*." : "")\(domain)")
            }
            for challenge in challenges {
                _ = try await post(challenge.url, payload: [String: Any]())
            }
            for challenge in challenges {
                let authorization = try await poll(challenge.authorization, until: ["valid"], failing: ["invalid", "deactivated", "expired", "revoked"])
                progress("authorization valid: \(((authorization["identifier"] as? [String: Any])?["value"] as? String) ?? challenge.authorization)")
            }
        } catch {
            await cleanup(published, solver: solver)
            throw error
        }
        await cleanup(published, solver: solver)

        guard let finalize = order["finalize"] as? String else { throw ACMEError(.transport, "the order has no finalize URL") }
        let csr = try CertificateRequest.der(names: names, key: certificateKey)
        _ = try await post(finalize, payload: ["csr": Base64URL.encode(csr)])
        order = try await poll(orderURL, until: ["valid"], failing: ["invalid"])
        guard let certificateURL = order["certificate"] as? String else { throw ACMEError(.transport, "the valid order has no certificate URL") }
        let download = try await post(certificateURL, payload: nil, accept: "application/pem-certificate-chain")
        let chain = String(decoding: download.body, as: UTF8.self)
        guard download.status == 200, chain.contains("BEGIN CERTIFICATE") else {
            throw ACMEError(.transport, "certificate download answered \(download.status)", status: Int(download.status))
        }
        progress("certificate issued: \(certificateURL)")
        return chain
    }

    /// RFC 8555 §8.4: base64url(SHA-256(token "." thumbprint)).
    public static func dns01Value(token: String, thumbprint: String) -> String {
        dns01Value(keyAuthorization: "\(token).\(thumbprint)")
    }

    /// The dns-01 TXT value of a whole key authorization (lego's RAW httpreq sends that).
    public static func dns01Value(keyAuthorization: String) -> String {
        Base64URL.sha256(keyAuthorization)
    }

    private func cleanup(_ published: [(name: String, value: String)], solver: any DNS01Solver) async {
        for (name, value) in published {
            do {
                try await solver.cleanup(name: name, value: value)
            } catch {
                logger.warning("challenge cleanup failed; it expires on its own", metadata: ["name": "\(name)", "error": "\(error)"])
            }
        }
    }

    // MARK: Renewal

    /// When to renew `certificatePEM`: inside the CA's ARI window when it
    /// offers one (a random moment in it, as RFC 9773 asks), otherwise at
    /// two thirds of the lifetime.
    public func renewalTime(for certificatePEM: String) async -> Date {
        guard let info = try? CertificateInfo(pem: certificatePEM) else { return Date() }
        if let base = try? await directory().renewalInfo, let id = info.renewalInfoID,
           let response = try? await send(.GET, base.hasSuffix("/") ? base + id : base + "/" + id), response.status == 200,
           let window = response.json?["suggestedWindow"] as? [String: Any],
           let startText = window["start"] as? String, let endText = window["end"] as? String,
           let start = ISO8601DateFormatter.lenient(startText), let end = ISO8601DateFormatter.lenient(endText), end >= start {
            return start.addingTimeInterval(Double.random(in: 0...max(0, end.timeIntervalSince(start))))
        }
        return info.defaultRenewalTime
    }

    // MARK: Transport

    struct Response {
        var status: UInt
        var headers: HTTPHeaders
        var body: [UInt8]
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
    }

    /// Polls `url` (POST-as-GET) until its status is in `until`, honouring
    /// Retry-After and otherwise backing off from 0.5 s to 5 s, for at most
    /// `timeout` seconds.
    private func poll(_ url: String, until done: Set<String>, failing: Set<String>, timeout: Double = 120) async throws(ACMEError) -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        var delay = 0.5
        while true {
            let response = try await post(url, payload: nil)
            guard let json = response.json, let status = json["status"] as? String else { throw ACMEError(.transport, "\(url) unreadable") }
            if done.contains(status) { return json }
            if failing.contains(status) {
                let problem = Self.problems(in: json)
                throw ACMEError(.invalid, "\(url) is \(status)\(problem.map { ": \($0.detail)" } ?? "")", problemType: problem?.type)
            }
            guard Date() < deadline else { throw ACMEError(.timeout, "\(url) still \(status) after \(Int(timeout)) s") }
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Double.init)
            try? await Task.sleep(for: .seconds(min(retryAfter ?? delay, 30)))
            delay = min(delay * 1.5, 5)
        }
    }

    /// The first problem in an authorization's challenges or an order's `error`.
    static func problems(in json: [String: Any]) -> (type: String?, detail: String)? {
        if let error = json["error"] as? [String: Any] {
            return (error["type"] as? String, error["detail"] as? String ?? "")
        }
        for challenge in json["challenges"] as? [[String: Any]] ?? [] {
            if let error = challenge["error"] as? [String: Any] {
                return (error["type"] as? String, error["detail"] as? String ?? "")
            }
        }
        return nil
    }

    /// A signed POST (`payload` nil is POST-as-GET), retried with a fresh
    /// nonce on badNonce. Problem documents become `ACMEError`s.
    private func post(_ url: String, payload: Any?, useKID: Bool = true, accept: String? = nil) async throws(ACMEError) -> Response {
        let body: [UInt8]? = try payload.map { object throws(ACMEError) in try JWS.json(object) }
        var attempt = 0
        while true {
            attempt += 1
            let signed = try JWS.sign(payload: body, url: url, nonce: try await nonce(), key: accountKey, kid: useKID ? accountURL : nil)
            let response = try await send(.POST, url, body: signed, accept: accept)
            if response.status < 400 { return response }
            let problem = response.json
            let error = ACMEError(.problem, problem?["detail"] as? String ?? "HTTP \(response.status) from \(url)",
                                  problemType: problem?["type"] as? String, status: Int(response.status))
            if error.isBadNonce && attempt < 10 {
                badNonceRetries += 1
                logger.debug("badNonce, retrying", metadata: ["url": "\(url)", "attempt": "\(attempt)"])
                continue
            }
            throw error
        }
    }

    private func send(_ method: HTTPMethod, _ url: String, body: [UInt8]? = nil, accept: String? = nil) async throws(ACMEError) -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: "cdnsd-acme/1")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/jose+json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        if let accept { request.headers.add(name: "Accept", value: accept) }
        do {
            let response = try await http.execute(request, timeout: .seconds(30))
            let buffer = try await response.body.collect(upTo: 4 << 20)
            if let nonce = response.headers.first(name: "Replay-Nonce") { nonces.append(nonce) }
            return Response(status: response.status.code, headers: response.headers, body: Array(buffer.readableBytesView))
        } catch {
            throw ACMEError(.transport, "\(method) \(url): \(error)")
        }
    }
}

extension ISO8601DateFormatter {
    /// RFC 3339 with or without fractional seconds.
    static func lenient(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}
