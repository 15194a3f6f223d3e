import DNSWire
import Foundation
import Testing

/// Issue 13: records and zones at runtime (CLI and admin API), SIGHUP
/// reload under load, `account add --for`, and `import acme-dns` from a
/// database made with acme-dns's own schema. Real dig, curl, sqlite3,
/// dnsperf, pebble and certbot-dns-acmedns.
@Suite("Zone data without restarts", .serialized)
struct RuntimeZoneDataTests {
    // MARK: Helpers

    static func dig(_ port: UInt16, _ name: String, _ type: String = "A") throws -> [String] {
        let dig = try Programs.require("dig")
        let run = try ManagedProcess.run(dig, ["@127.0.0.1", "-p", "\(port)", "+short", "+time=1", "+tries=1", name, type])
        return run.output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") }
    }

    static func serial(_ port: UInt16, _ zone: String) throws -> UInt32 {
        let fields = try dig(port, zone, "SOA").first?.split(separator: " ") ?? []
        guard fields.count >= 3, let serial = UInt32(fields[2]) else { throw TestSetupError("no SOA for \(zone)") }
        return serial
    }

    /// Polls until dig shows `expected` (or nothing, for `[]`); returns the seconds it took.
    @discardableResult
    static func waitForAnswer(_ port: UInt16, _ name: String, _ type: String = "A", _ expected: [String], within seconds: Double) async throws -> Double {
        let start = Date()
        try await waitUntil("\(name) \(type) answers \(expected)", timeout: seconds) { try dig(port, name, type) == expected }
        return Date().timeIntervalSince(start)
    }

    static func adminToken(_ cdnsd: ChallengeDaemon, _ name: String, readOnly: Bool = false) throws -> String {
        let added = try cdnsd.command(["admin-token", "add", name] + (readOnly ? ["--read-only"] : []))
        #expect(added.status == 0, "\(added.output)")
        return try #require(added.output.split(separator: "\n").first { $0.hasPrefix("token: ") }.map { String($0.dropFirst("token: ".count)) })
    }

    static func json(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    static func admin(_ method: String, _ url: String, token: String?, json body: String? = nil, headers: [String] = []) throws -> Curl.Response {
        var arguments = ["-X", method]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        return try Curl.request(arguments + headers.flatMap { ["-H", $0] } + [url])
    }

    // MARK: Records

    @Test("a record added by the CLI and one by the admin API answer within a second, survive a restart, go on removal; the serial rises each time",
          .enabled(if: Programs.runnable("dig", "curl")))
    func recordsAtRuntime() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        try cdnsd.start()
        defer { cdnsd.stop() }
        let token = try Self.adminToken(cdnsd, "ops")
        var serial = try Self.serial(cdnsd.dnsPort, "svc.test")

        let added = try cdnsd.command(["record", "add", "ca.svc.test. 300 A 10.8.10.253"])
        #expect(added.status == 0, "\(added.output)")
        let cliDelay = try await Self.waitForAnswer(cdnsd.dnsPort, "ca.svc.test", "A", ["10.8.10.253"], within: 1.5)
        #expect(cliDelay <= 1.0, "the daemon took \(cliDelay)s to serve the CLI's record")
        let afterCLI = try Self.serial(cdnsd.dnsPort, "svc.test")
        #expect(afterCLI > serial, "serial \(serial) -> \(afterCLI)")
        serial = afterCLI

        // The admin API answers only once the record is served: dig right after sees it.
        let posted = try Self.admin("POST", "\(cdnsd.apiURL)/admin/v1/zones/svc.test/records", token: token,
                                    json: #"{"record":"api.svc.test. 120 IN TXT \"made by the admin API\""}"#)
        #expect(posted.status == 201, "\(posted)")
        #expect(try Self.dig(cdnsd.dnsPort, "api.svc.test", "TXT") == ["\"made by the admin API\""])
        let afterAPI = try Self.serial(cdnsd.dnsPort, "svc.test")
        #expect(afterAPI > serial)
        #expect((Self.json(posted.body)?["serial"] as? Int).map(UInt32.init) == afterAPI)
        serial = afterAPI

        let listed = try Self.admin("GET", "\(cdnsd.apiURL)/admin/v1/zones/svc.test/records?type=A", token: token)
        #expect(listed.status == 200)
        let rows = Self.json(listed.body)?["records"] as? [[String: Any]] ?? []
        #expect(rows.contains { $0["name"] as? String == "ca.svc.test." && $0["source"] as? String == "runtime" })
        #expect(rows.contains { $0["name"] as? String == "*.svc.test." && $0["source"] as? String == "config" })
        let cliList = try cdnsd.command(["record", "list", "svc.test", "--json"])
        #expect(cliList.status == 0 && cliList.output.contains("api.svc.test."), "\(cliList.output)")

        // Both survive a restart (the store), config records come back too.
        cdnsd.stop()
        try cdnsd.start()
        #expect(try Self.dig(cdnsd.dnsPort, "ca.svc.test") == ["10.8.10.253"])
        #expect(try Self.dig(cdnsd.dnsPort, "api.svc.test", "TXT") == ["\"made by the admin API\""])
        #expect(try Self.serial(cdnsd.dnsPort, "svc.test") == serial, "a restart with the same file changes no serial")

        let removed = try cdnsd.command(["record", "remove", "ca.svc.test. A 10.8.10.253"])
        #expect(removed.status == 0, "\(removed.output)")
        // Gone: the wildcard answers again.
        try await Self.waitForAnswer(cdnsd.dnsPort, "ca.svc.test", "A", ["10.8.10.252"], within: 1.5)
        let afterRemove = try Self.serial(cdnsd.dnsPort, "svc.test")
        #expect(afterRemove > serial)
        serial = afterRemove
        let deleted = try Self.admin("DELETE", "\(cdnsd.apiURL)/admin/v1/zones/svc.test/records?name=api.svc.test.&type=TXT", token: token)
        #expect(deleted.status == 200, "\(deleted)")
        #expect((Self.json(deleted.body)?["removed"] as? Int) == 1)
        #expect(try Self.dig(cdnsd.dnsPort, "api.svc.test", "TXT").isEmpty)
        #expect(try Self.serial(cdnsd.dnsPort, "svc.test") > serial)
        // Removing again: nothing there.
        #expect(try cdnsd.command(["record", "remove", "ca.svc.test. A 10.8.10.253"]).status != 0)

        // Zones at runtime.
        let zone = try cdnsd.command(["zone", "add", "lab.test", "--nameserver", "ns.svc.test"])
        #expect(zone.status == 0, "\(zone.output)")
        #expect(try cdnsd.command(["record", "add", "www.lab.test. A 10.9.0.1"]).status == 0)
        try await Self.waitForAnswer(cdnsd.dnsPort, "www.lab.test", "A", ["10.9.0.1"], within: 2)
        let zones = try cdnsd.command(["zone", "list"])
        #expect(zones.output.contains("lab.test.\tserial=") && zones.output.contains("source=runtime"), "\(zones.output)")
        #expect(try cdnsd.command(["zone", "remove", "svc.test"]).status != 0, "a zone of the file is the file's")
        #expect(try cdnsd.command(["zone", "remove", "lab.test"]).status == 0)
        try await waitUntil("lab.test refused", timeout: 2) {
            let dig = try Programs.require("dig")
            return try ManagedProcess.run(dig, ["@127.0.0.1", "-p", "\(cdnsd.dnsPort)", "+time=1", "+tries=1", "www.lab.test", "A"]).output.contains("REFUSED")
        }
    }

    @Test("hostile admin requests: each a clear 4xx with a JSON error, nothing changed", .enabled(if: Programs.runnable("dig", "curl")))
    func hostileAdmin() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        try cdnsd.start(svc: ["www.svc.test. A 10.1.1.1"])
        defer { cdnsd.stop() }
        let writer = try Self.adminToken(cdnsd, "ops")
        let reader = try Self.adminToken(cdnsd, "dash", readOnly: true)
        let registered = try Curl.post("\(cdnsd.apiURL)/register", json: "{}")
        let account = try #require(Self.json(registered.body))
        let user = try #require(account["username"] as? String)
        let key = try #require(account["password"] as? String)
        let credential = try cdnsd.command(["credential", "add", "lego", "--allow", "*"])
        let secret = try #require(credential.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count))
        try await waitUntil("tokens visible to the daemon", timeout: 10) {
            try Self.admin("GET", "\(cdnsd.apiURL)/admin/v1/zones", token: reader).status == 200
        }
        let records = "\(cdnsd.apiURL)/admin/v1/zones/svc.test/records"
        let before = try Self.admin("GET", records, token: reader).body
        let serial = try Self.serial(cdnsd.dnsPort, "svc.test")
        let good = #"{"record":"new.svc.test. A 10.2.2.2"}"#

        let cases: [(String, Curl.Response, Int, String)] = [
            ("no token", try Self.admin("POST", records, token: nil, json: good), 401, "admin_unauthorized"),
            ("no token, read", try Self.admin("GET", records, token: nil), 401, "admin_unauthorized"),
            ("acme-dns account headers", try Self.admin("POST", records, token: nil, json: good, headers: ["X-Api-User: \(user)", "X-Api-Key: \(key)"]), 401, "admin_unauthorized"),
            ("acme-dns account as bearer", try Self.admin("POST", records, token: "\(user).\(key)", json: good), 401, "admin_unauthorized"),
            ("httpreq credential as basic auth", try Self.admin("POST", records, token: nil, json: good,
                                                               headers: ["Authorization: Basic " + Data("lego:\(secret)".utf8).base64EncodedString()]), 401, "admin_unauthorized"),
            ("httpreq credential as bearer", try Self.admin("POST", records, token: "lego.\(secret)", json: good), 401, "admin_unauthorized"),
            ("wrong secret", try Self.admin("POST", records, token: "ops.wrong", json: good), 401, "admin_unauthorized"),
            ("read-only token writes", try Self.admin("POST", records, token: reader, json: good), 403, "admin_read_only"),
            ("read-only token deletes", try Self.admin("DELETE", "\(records)?name=www.svc.test.&type=A", token: reader), 403, "admin_read_only"),
            ("out-of-zone record", try Self.admin("POST", records, token: writer, json: #"{"record":"www.elsewhere.example. A 10.2.2.2"}"#), 400, "fqdn_outside_zones"),
            ("record of another zone", try Self.admin("POST", records, token: writer, json: #"{"record":"x.other.test. A 10.2.2.2"}"#), 400, "fqdn_outside_zones"),
            ("CNAME next to other data", try Self.admin("POST", records, token: writer, json: #"{"record":"www.svc.test. CNAME ns.svc.test."}"#), 409, "conflict"),
            ("other data next to a CNAME's name", try Self.admin("POST", records, token: writer, json: #"{"record":"ns.svc.test. CNAME www.svc.test."}"#), 409, "conflict"),
            ("malformed presentation line", try Self.admin("POST", records, token: writer, json: #"{"record":"www.svc.test. A not-an-address"}"#), 400, "bad_record"),
            ("no record type", try Self.admin("POST", records, token: writer, json: #"{"record":"garbage"}"#), 400, "bad_record"),
            ("not JSON", try Self.admin("POST", records, token: writer, json: "record=x"), 400, "malformed_json_payload"),
            ("SOA added", try Self.admin("POST", records, token: writer, json: #"{"record":"svc.test. SOA ns.svc.test. admin.svc.test. 1 2 3 4 5"}"#), 400, "bad_record"),
            ("SOA deleted", try Self.admin("DELETE", "\(records)?name=svc.test.&type=SOA", token: writer), 400, "bad_record"),
            ("apex NS deleted", try Self.admin("DELETE", "\(records)?name=svc.test.&type=NS", token: writer), 400, "bad_record"),
            ("config record deleted", try Self.admin("DELETE", "\(records)?name=www.svc.test.&type=A", token: writer), 409, "conflict"),
            ("unknown zone", try Self.admin("GET", "\(cdnsd.apiURL)/admin/v1/zones/nowhere.test/records", token: writer), 404, "no_such_zone"),
        ]
        for (what, response, status, code) in cases {
            #expect(response.status == status, "\(what): \(response)")
            #expect(Self.json(response.body)?["error"] as? String == code, "\(what): \(response)")
        }
        #expect(try Self.admin("GET", records, token: reader).body == before, "nothing changed")
        #expect(try Self.serial(cdnsd.dnsPort, "svc.test") == serial)
        #expect(try Self.dig(cdnsd.dnsPort, "www.svc.test") == ["10.1.1.1"])
        // The CLI refuses the same way.
        let cli = try cdnsd.command(["record", "add", "www.svc.test. CNAME ns.svc.test."])
        #expect(cli.status == 1 && cli.output.contains("CNAME"), "\(cli.output)")
        #expect(try cdnsd.command(["record", "remove", "svc.test. SOA"]).status == 1)
        #expect(try cdnsd.command(["record", "add", "not a record"]).status == 1)
    }

    // MARK: account add --for

    @Test("account add --for app.svc.test: CNAME served, certbot-dns-acmedns issues *.app.svc.test from pebble with the printed file; lego's file has goacmedns's keys",
          .enabled(if: ChallengeEndToEndTests.certbotReady))
    func accountAddFor() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        try cdnsd.start()
        defer { cdnsd.stop() }
        let certbotFile = directory.url.appendingPathComponent("acmedns.json").path
        let legoFile = directory.url.appendingPathComponent("lego-acme-dns.json").path
        let added = try cdnsd.command(["account", "add", "--for", "app.svc.test", "--for", "outside.example",
                                       "--certbot-file", certbotFile, "--lego-file", legoFile])
        #expect(added.status == 0, "\(added.output)")
        #expect(added.output.contains("_acme-challenge.outside.example. CNAME"), "the record to add by hand: \(added.output)")
        let fileText = try String(contentsOfFile: certbotFile, encoding: .utf8)
        let registrations = try #require(Self.json(fileText))
        let entry = try #require(registrations["app.svc.test"] as? [String: Any])
        #expect(Set(entry.keys) == ["username", "password", "fulldomain", "subdomain", "allowfrom"])
        let fulldomain = try #require(entry["fulldomain"] as? String)
        #expect(fulldomain == "\(entry["subdomain"] as? String ?? "").svc.test")
        try await Self.waitForAnswer(cdnsd.dnsPort, "_acme-challenge.app.svc.test", "CNAME", ["\(fulldomain)."], within: 2)

        // lego v5.3.1's acme-dns provider reads ACME_DNS_STORAGE_PATH with goacmedns
        // v0.2.0's storage.NewFile(path, 0o600): json.Unmarshal into
        // map[string]goacmedns.Account{fulldomain, subdomain, username, password, server_url}.
        let lego = try #require(Self.json(try String(contentsOfFile: legoFile, encoding: .utf8)))
        let legoEntry = try #require(lego["app.svc.test"] as? [String: String], "keyed by the domain lego passes to Present")
        #expect(Set(legoEntry.keys) == ["fulldomain", "subdomain", "username", "password", "server_url"])
        #expect(legoEntry["fulldomain"] == fulldomain && legoEntry["username"] == entry["username"] as? String)
        #expect(legoEntry["server_url"] == cdnsd.apiURL)
        for file in [legoFile, certbotFile] {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
            #expect(mode == 0o600, "\(file) mode \(String(mode, radix: 8))")
        }
        let listed = try cdnsd.command(["account", "list"])
        #expect(listed.output.contains("cnames=_acme-challenge.app.svc.test."), "\(listed.output)")

        let pebble = try PebbleServer.start(in: directory, dnsPort: cdnsd.dnsPort, nonceRejection: false)
        defer { pebble.process.stop() }
        try ChallengeEndToEndTests.issueWithCertbotACMEDNS(registrationFile: certbotFile, domain: "app.svc.test", cdnsd: cdnsd, pebble: pebble, in: directory)

        // account remove takes its CNAME along.
        let username = try #require(entry["username"] as? String)
        let removed = try cdnsd.command(["account", "remove", username])
        #expect(removed.status == 0 && removed.output.contains("_acme-challenge.app.svc.test."), "\(removed.output)")
        try await Self.waitForAnswer(cdnsd.dnsPort, "_acme-challenge.app.svc.test", "CNAME", [], within: 2)
    }
}
