import CDNSTestSupport
import Foundation
import Testing

/// schemathesis generates requests from `Docs/openapi.yaml` (valid,
/// boundary and invalid ones) against the running daemon, authenticated
/// as an acme-dns account and as an httpreq credential: no 5xx.
@Suite("OpenAPI fuzzing with schemathesis", .blocking)
struct SchemathesisTests {
    static var schemathesis: String? { ProcessInfo.processInfo.environment["CDNS_SCHEMATHESIS"] ?? Programs.path("schemathesis") }

    @Test("no request generated from the OpenAPI description gets a 5xx", .enabled(if: Programs.required || schemathesis != nil))
    func noServerErrors() async throws {
        guard let schemathesis = Self.schemathesis else {
            throw TestSetupError("schemathesis is not installed; Scripts/test.sh installs it from PyPI into a venv")
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        try cdnsd.start()
        defer { cdnsd.stop() }
        let added = try cdnsd.command(["credential", "add", "fuzz", "--allow", "*"])
        let secret = try #require(added.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count))
        let registered = try Curl.post("\(cdnsd.apiURL)/register", json: "{}")
        let account = try #require(try JSONSerialization.jsonObject(with: Data(registered.body.utf8)) as? [String: Any])
        let user = try #require(account["username"] as? String)
        let key = try #require(account["password"] as? String)
        try await waitUntil("credential visible to the daemon", timeout: 30) {
            try Curl.post("\(cdnsd.apiURL)/present", json: "{}", headers: ["Authorization: Basic " + Data("fuzz:\(secret)".utf8).base64EncodedString()]).status == 400
        }
        let run = try ManagedProcess.run(schemathesis, [
            "run", Programs.repositoryRoot.appendingPathComponent("Docs/openapi.yaml").path, "--url", cdnsd.apiURL,
            "--checks", "not_a_server_error", "--max-examples", "100", "--generation-deterministic",
            "-H", "Authorization: Basic " + Data("fuzz:\(secret)".utf8).base64EncodedString(),
            "-H", "X-Api-User: \(user)", "-H", "X-Api-Key: \(key)",
        ], environment: ["SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"], timeout: 600)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("passed"), "\(run.output)")
        #expect(!run.output.contains("Server error"), "\(run.output)")
        // The admin API again, authenticated with a read-write admin token.
        let token = try cdnsd.command(["admin-token", "add", "fuzz"])
        let bearer = try #require(token.output.split(separator: "\n").first { $0.hasPrefix("token: ") }?.dropFirst("token: ".count))
        try await waitUntil("admin token visible to the daemon", timeout: 30) {
            try Curl.request(["-H", "Authorization: Bearer \(bearer)", "\(cdnsd.apiURL)/admin/v1/zones"]).status == 200
        }
        let admin = try ManagedProcess.run(schemathesis, [
            "run", Programs.repositoryRoot.appendingPathComponent("Docs/openapi.yaml").path, "--url", cdnsd.apiURL,
            "--checks", "not_a_server_error", "--max-examples", "50", "--generation-deterministic",
            "--include-path-regex", "^/admin", "-H", "Authorization: Bearer \(bearer)",
        ], environment: ["SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"], timeout: 600)
        #expect(admin.status == 0, "\(admin.output)")
        #expect(!admin.output.contains("Server error"), "\(admin.output)")
        // The daemon is still up and answering.
        #expect(try Curl.get("\(cdnsd.apiURL)/health").status == 200)
    }
}
