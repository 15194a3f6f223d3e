import ChallengeAPI
import DNSWire
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import ZoneStore

/// A live ChallengeAPI on 127.0.0.1 (a real socket, so the peer address is
/// real) over an in-memory store serving `svc.test` and `other.test`.
struct APITestHarness {
    static let zones = [
        ZoneConfiguration(origin: "svc.test.", nameservers: ["ns.svc.test."], admin: "admin.svc.test.", records: [
            try! ResourceRecord(presentation: "ns.svc.test. 300 A 127.0.0.1"),
        ]),
        ZoneConfiguration(origin: "other.test.", nameservers: ["ns.svc.test."], admin: "admin.svc.test."),
    ]

    let store: ZoneRecordStore
    let api: ChallengeAPI

    static func configuration(registration: Bool = true, trustedProxies: [String] = [], corsOrigins: [String] = []) -> ChallengeAPIConfiguration {
        ChallengeAPIConfiguration(
            accountDomain: "svc.test.", registration: registration,
            trustedProxies: trustedProxies.compactMap(IPNetwork.init), corsOrigins: corsOrigins, maxBodySize: 16 * 1024, challengeLifetime: 600, bcryptCost: 4,
            connections: Self.patientConnections)
    }

    /// Connection deadlines far beyond a loaded full `swift test` run: the
    /// test client connects first and may send its first request more than
    /// the default 10 s header timeout later. LimitsTests' deadline tests set their own.
    static let patientConnections = APIConnectionSettings(headerTimeout: .seconds(600), bodyTimeout: .seconds(600), idleTimeout: .seconds(600))

    init(configuration: ChallengeAPIConfiguration = APITestHarness.configuration(), challenge: ChallengeSettings = ChallengeSettings()) async throws {
        store = try await ZoneRecordStore(zones: Self.zones, challenge: challenge)
        api = ChallengeAPI(store: store, configuration: configuration, logger: Logger(label: "test.api"))
    }

    /// Runs `body` against the API listening on an ephemeral loopback port.
    func run(_ body: @Sendable @escaping (any TestClientProtocol) async throws -> Void) async throws {
        let app = try APIServer.application(api: api, host: "127.0.0.1", port: 0, certificate: nil, logger: Logger(label: "test.api"))
        try await app.test(.live) { client in try await body(client) }
    }

    /// Adds a credential whose secret is `secret`.
    func addCredential(_ name: String, secret: String, allow: [String], from: [String] = []) async throws {
        let hash = try await SecretGenerator.hash(secret, cost: 4)
        try await store.putCredential(APICredential(name: name, secretHash: hash, allowedNames: allow, allowedSources: from))
    }

    /// The TXT values served at `name`, read from the snapshot the DNS server uses.
    func servedTXT(_ name: String) async throws -> [String] {
        let answer = store.snapshot().lookup(try DNSName(name), type: .txt)
        return answer.answer.flatMap(\.records).compactMap { record in
            if case .txt(let txt) = record.data { return txt.strings.map { String(decoding: $0, as: UTF8.self) }.joined() }
            return nil
        }
    }
}

/// A registered acme-dns account, as /register returned it.
struct Registration: Sendable {
    var username: String
    var password: String
    var subdomain: String
    var fulldomain: String
}

extension TestClientProtocol {
    func post(_ uri: String, json: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var headers = headers
        headers[.contentType] = "application/json"
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }

    func register(allowFrom: [String] = []) async throws -> Registration {
        let list = allowFrom.map { "\"\($0)\"" }.joined(separator: ",")
        let response = try await post("/register", json: "{\"allowfrom\":[\(list)]}")
        #expect(response.status == .created)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
        return Registration(
            username: try #require(object["username"] as? String), password: try #require(object["password"] as? String),
            subdomain: try #require(object["subdomain"] as? String), fulldomain: try #require(object["fulldomain"] as? String))
    }

    func update(_ account: Registration, subdomain: String? = nil, txt: String, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        headers[HTTPField.Name("X-Api-User")!] = account.username
        headers[HTTPField.Name("X-Api-Key")!] = account.password
        return try await post("/update", json: "{\"SubDomain\":\"\(subdomain ?? account.subdomain)\",\"Txt\":\"\(txt)\"}", headers: headers)
    }

    func httpreq(_ path: String, user: String, secret: String, json: String, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        headers[.authorization] = "Basic " + Data("\(user):\(secret)".utf8).base64EncodedString()
        return try await post(path, json: json, headers: headers)
    }
}

extension TestResponse {
    /// The `error` code of a JSON error body.
    var errorCode: String? {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["error"] as? String
    }

    var text: String { String(buffer: body) }
}

/// 43 characters of base64url, as ACME's TXT values are.
func challengeValue(_ seed: Character) -> String { String(repeating: seed, count: 43) }
