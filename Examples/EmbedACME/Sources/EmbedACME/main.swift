import ACMEClient
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Publishes dns-01 values through an httpreq endpoint (`POST /present`,
/// `POST /cleanup` with `{"fqdn","value"}` and basic auth), as lego does.
/// Any DNS01Solver works: ACMEClient knows nothing of DNS servers.
struct HTTPReqSolver: DNS01Solver {
    let endpoint: URL
    let username: String
    let password: String

    func present(name: String, value: String) async throws { try await call("present", name, value) }
    func cleanup(name: String, value: String) async throws { try await call("cleanup", name, value) }

    func call(_ action: String, _ name: String, _ value: String) async throws {
        var request = URLRequest(url: endpoint.appendingPathComponent(action))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Basic " + Data("\(username):\(password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        request.httpBody = try JSONSerialization.data(withJSONObject: ["fqdn": name, "value": value])
        let (body, response) = try await URLSession.shared.data(for: request)
        guard let status = (response as? HTTPURLResponse)?.statusCode, status < 400 else {
            throw SolverError(reason: "\(action) \(name): \(String(decoding: body, as: UTF8.self))")
        }
    }
}

struct SolverError: Error { let reason: String }

func setting(_ name: String) throws -> String {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { throw SolverError(reason: "set \(name)") }
    return value
}

// ACME_DIRECTORY, ACME_CA_FILE (trust for the directory's HTTPS), the
// httpreq endpoint and credential, the names, and where the chain goes.
let names = try setting("DOMAINS").split(separator: ",").map(String.init)
let output = try setting("OUT")
let solver = HTTPReqSolver(endpoint: URL(string: try setting("HTTPREQ_ENDPOINT"))!, username: try setting("HTTPREQ_USERNAME"), password: try setting("HTTPREQ_PASSWORD"))

let client = try ACMEClient(directoryURL: try setting("ACME_DIRECTORY"), accountKey: try PrivateKey(generating: .p256),
                            trustRoots: ProcessInfo.processInfo.environment["ACME_CA_FILE"])
do {
    try await client.account(email: "admin@svc.dev")
    let certificateKey = try PrivateKey(generating: .p256)
    let chain = try await client.issue(names: names, certificateKey: certificateKey, solver: solver) { print($0) }
    try chain.write(toFile: output, atomically: true, encoding: .utf8)
    let info = try CertificateInfo(pem: chain)
    print("issued \(names.joined(separator: ", ")), valid until \(info.notAfter), renew at \(await client.renewalTime(for: chain))")
    await client.shutdown()
} catch {
    await client.shutdown()
    throw error
}
