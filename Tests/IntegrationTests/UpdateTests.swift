import CDNSTestSupport
import DNSServer
import DNSWire
import Foundation
import Testing

/// RFC 2136 UPDATE signed with TSIG against the real daemon: nsupdate and
/// knsupdate, lego's and certbot's rfc2136 clients issuing from pebble, and
/// a hostile matrix of messages made here with cdnsd's own signer.
@Suite("UPDATE with TSIG", .blocking, .serialized)
struct UpdateTests {
    /// A daemon with keys made by `cdnsd tsig add` while it runs.
    struct Server {
        var cdnsd: ChallengeDaemon
        var secrets: [String: String] = [:]

        init(in directory: TemporaryDirectory, environment: [String: String] = [:], sections: String = "") throws {
            cdnsd = try ChallengeDaemon(in: directory)
            cdnsd.environment = environment
            cdnsd.sections = sections
            try cdnsd.start()
        }

        /// `cdnsd tsig add NAME ARGS…`; returns the secret and waits until the daemon knows the key.
        @discardableResult
        mutating func addKey(_ name: String, _ arguments: [String]) async throws -> String {
            let added = try cdnsd.command(["tsig", "add", name] + arguments)
            #expect(added.status == 0, "\(added.output)")
            let secret = try #require(added.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count))
            secrets[name] = String(secret)
            let algorithm = TSIGAlgorithm(text: arguments.firstIndex(of: "--algorithm").map { arguments[$0 + 1] } ?? "hmac-sha256") ?? .hmacSHA256
            let credential = TSIGCredential(name: try DNSName(name), algorithm: algorithm, secret: Base64.decode(secret) ?? [])
            let port = cdnsd.dnsPort
            try await waitUntil("key \(name) known to the daemon", timeout: 30) {
                let query = try DNSMessage(header: DNSHeader(id: 1), questions: [Question(name: "svc.test.", type: .soa)]).encode()
                let signed = TSIGSigner(credential: credential).sign(request: query, time: UInt64(Date().timeIntervalSince1970))
                let reply = try DNSMessage(decoding: try TestDNSClient.udp(signed.message, port: port))
                return reply.header.rcode == .noError
            }
            return String(secret)
        }
    }

    static func script(port: UInt16, _ lines: [String]) -> String {
        (["server 127.0.0.1 \(port)", "zone svc.test."] + lines + ["send", ""]).joined(separator: "\n")
    }

    @Test("nsupdate -y and knsupdate add and delete TXT values with hmac-sha256 and hmac-sha512; dig sees each change",
          .enabled(if: Programs.runnable("nsupdate", "knsupdate", "dig")))
    func nsupdateAndKnsupdate() async throws {
        let nsupdate = try Programs.require("nsupdate")
        let knsupdate = try Programs.require("knsupdate")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var server = try Server(in: directory)
        defer { server.cdnsd.stop() }
        let port = server.cdnsd.dnsPort
        let name = "_acme-challenge.www.svc.test."
        for algorithm in ["hmac-sha256", "hmac-sha512"] {
            let key = "scripts-\(algorithm)"
            let secret = try await server.addKey(key, ["--algorithm", algorithm, "--allow", "*.svc.test", "--from", "127.0.0.0/8"])
            let y = "\(algorithm):\(key):\(secret)"
            for (tool, extra) in [(nsupdate, [] as [String]), (nsupdate, ["-v"]), (knsupdate, []), (knsupdate, ["-v"])] {
                let value = "\(URL(fileURLWithPath: tool).lastPathComponent)\(extra.joined())-\(algorithm)"
                let add = try directory.file("add.txt", Self.script(port: port, ["update add \(name) 60 TXT \"\(value)\""]))
                let added = try ManagedProcess.run(tool, extra + ["-y", y, add])
                #expect(added.status == 0, "\(tool) \(extra) add: \(added.output)")
                #expect(try server.cdnsd.digTXT(name).contains(value), "\(tool) \(extra) \(algorithm)")
                let delete = try directory.file("delete.txt", Self.script(port: port, ["update delete \(name) TXT \"\(value)\""]))
                let deleted = try ManagedProcess.run(tool, extra + ["-y", y, delete])
                #expect(deleted.status == 0, "\(tool) \(extra) delete: \(deleted.output)")
                #expect(try !server.cdnsd.digTXT(name).contains(value), "\(tool) \(extra) \(algorithm)")
            }
        }
        // A key scoped elsewhere is refused, and nsupdate says so.
        let narrow = try await server.addKey("narrow", ["--allow", "one.svc.test"])
        let refused = try ManagedProcess.run(nsupdate, ["-y", "hmac-sha256:narrow:\(narrow)",
            try directory.file("refused.txt", Self.script(port: port, ["update add \(name) 60 TXT \"no\""]))])
        #expect(refused.status != 0 && refused.output.contains("REFUSED"), "\(refused.output)")
        #expect(try server.cdnsd.digTXT(name).isEmpty, "the refused update wrote nothing")
        // Removed keys stop working.
        #expect(try server.cdnsd.command(["tsig", "remove", "narrow"]).status == 0)
        let listed = try server.cdnsd.command(["tsig", "list"])
        #expect(!listed.output.contains("narrow") && listed.output.contains("scripts-hmac-sha512.\thmac-sha512\tallow=*.svc.test\tfrom=127.0.0.0/8"), "\(listed.output)")
    }

    @Test("lego --dns rfc2136 issues *.svc.test and svc.test from pebble; the values are gone afterwards",
          .enabled(if: Programs.runnable("pebble", "lego", "openssl", "curl")))
    func legoRFC2136() async throws {
        let lego = try Programs.require("lego")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var server = try Server(in: directory)
        defer { server.cdnsd.stop() }
        let secret = try await server.addKey("lego.svc.test", ["--allow", "*.svc.test", "--from", "127.0.0.1"])
        let pebble = try PebbleServer.start(in: directory, dnsPort: server.cdnsd.dnsPort)
        defer { pebble.process.stop() }
        let run = try ManagedProcess.run(lego, [
            "--server", pebble.directoryURL, "--email", "admin@svc.test", "--accept-tos", "--path", directory.url.appendingPathComponent("lego").path,
            "--dns", "rfc2136", "--dns.resolvers", "127.0.0.1:\(server.cdnsd.dnsPort)", "--dns.disable-cp",
            "-d", "*.svc.test", "-d", "svc.test", "run",
        ], environment: [
            "LEGO_CA_CERTIFICATES": pebble.httpsCA, "RFC2136_NAMESERVER": "127.0.0.1:\(server.cdnsd.dnsPort)",
            "RFC2136_TSIG_KEY": "lego.svc.test.", "RFC2136_TSIG_SECRET": secret, "RFC2136_TSIG_ALGORITHM": "hmac-sha256.",
            "RFC2136_SEQUENCE_INTERVAL": "1", "RFC2136_PROPAGATION_TIMEOUT": "30", "RFC2136_POLLING_INTERVAL": "1",
        ], timeout: 180)
        #expect(run.status == 0, "\(run.output)\n\(server.cdnsd.process?.output ?? "")")
        let chain = directory.url.appendingPathComponent("lego/certificates/_.svc.test.crt").path
        try ChallengeEndToEndTests().expectIssued(chain: chain, names: ["*.svc.test", "svc.test"], pebble: pebble, in: directory)
        #expect(try server.cdnsd.txt("_acme-challenge.svc.test.").isEmpty)
    }

    @Test("certbot with python3-certbot-dns-rfc2136 issues *.svc.test and svc.test from pebble; the values are gone afterwards",
          .enabled(if: Programs.runnable("pebble", "certbot", "openssl", "curl") && (Programs.required || FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/certbot_dns_rfc2136"))))
    func certbotRFC2136() async throws {
        let certbot = try Programs.require("certbot")
        guard FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/certbot_dns_rfc2136") else {
            throw TestSetupError("python3-certbot-dns-rfc2136 is not installed; Scripts/test.sh installs it")
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var server = try Server(in: directory)
        defer { server.cdnsd.stop() }
        let secret = try await server.addKey("certbot", ["--algorithm", "hmac-sha512", "--allow", "*.svc.test"])
        // certbot 2.1 dies on two badNonces in a row; its retry is not under test.
        let pebble = try PebbleServer.start(in: directory, dnsPort: server.cdnsd.dnsPort, nonceRejection: false)
        defer { pebble.process.stop() }
        let credentials = try directory.file("rfc2136.ini", """
            dns_rfc2136_server = 127.0.0.1
            dns_rfc2136_port = \(server.cdnsd.dnsPort)
            dns_rfc2136_name = certbot.
            dns_rfc2136_secret = \(secret)
            dns_rfc2136_algorithm = HMAC-SHA512

            """)
        chmod(credentials, 0o600)
        let state = directory.url.appendingPathComponent("certbot").path
        let run = try ManagedProcess.run(certbot, [
            "certonly", "--non-interactive", "--agree-tos", "--register-unsafely-without-email",
            "--server", pebble.directoryURL, "--config-dir", state, "--work-dir", state, "--logs-dir", state,
            "--dns-rfc2136", "--dns-rfc2136-credentials", credentials, "--dns-rfc2136-propagation-seconds", "1",
            "-d", "*.svc.test", "-d", "svc.test",
        ], environment: ["REQUESTS_CA_BUNDLE": pebble.httpsCA], timeout: 180)
        #expect(run.status == 0, "\(run.output)\n\(server.cdnsd.process?.output ?? "")")
        try ChallengeEndToEndTests().expectIssued(chain: "\(state)/live/svc.test/fullchain.pem", names: ["*.svc.test", "svc.test"], pebble: pebble, in: directory)
        #expect(try server.cdnsd.txt("_acme-challenge.svc.test.").isEmpty)
    }
}

/// Keys from `[[tsig]]` tables, and records a widened key makes.
@Suite("UPDATE: static keys and permanent records", .blocking, .serialized)
struct UpdateKeysAndRecordsTests {
    static func send(_ updates: [ResourceRecord], with credential: TSIGCredential, port: UInt16, id: UInt16 = 60) throws -> ResponseCode {
        let signed = TSIGSigner(credential: credential).sign(request: try UpdateHostileTests.update(updates, id: id), time: UpdateHostileTests.now)
        let reply = try TestDNSClient.tcp(signed.message, port: port)
        let rcode = try DNSMessage(decoding: reply).header.rcode
        if rcode != .notAuth {  // BADKEY and BADSIG replies are unsigned
            _ = try TSIGVerifier.verifyResponse(reply, credential: credential, requestMAC: signed.mac).get()
        }
        return rcode
    }

    static func addresses(_ name: DNSName, port: UInt16) throws -> [String] {
        let reply = try DNSMessage(decoding: try TestDNSClient.udp(try DNSMessage(header: DNSHeader(id: 4), questions: [Question(name: name, type: .a)]).encode(), port: port))
        return reply.answers.filter { $0.type == .a }.map { "\($0.data)" }
    }

    @Test("libcrypto is mapped only once a TSIG-signed message needs an HMAC, and then verifies it")
    func libcryptoLoadsOnFirstUse() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var server = try UpdateTests.Server(in: directory)
        defer { server.cdnsd.stop() }
        let pid = try #require(server.cdnsd.process).pid
        func mapsLibcrypto() throws -> Bool {
            try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8).contains("libcrypto.so")
        }
        #expect(try Self.addresses("www.svc.test.", port: server.cdnsd.dnsPort).isEmpty == false)
        #expect(try !mapsLibcrypto(), "a daemon that has verified nothing maps libcrypto")
        // addKey returns once a query signed with the new key is answered NOERROR, which takes an HMAC.
        try await server.addKey("lazy-load", ["--allow", "*.svc.test"])
        #expect(try mapsLibcrypto())
    }

    @Test("without a loadable libcrypto, check-config and serve refuse [[tsig]] keys, naming libcrypto.so.3; a configuration without keys still passes",
          .enabled(if: Programs.runnable("unshare") && getuid() == 0))
    func missingLibcrypto() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let library = try #require(["/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/aarch64-linux-gnu/libcrypto.so.3"].first {
            FileManager.default.fileExists(atPath: $0)
        })
        _ = try directory.file("plain.key", Base64.encode(Array(repeating: 0x11, count: 32)) + "\n")
        var cdnsd = try ChallengeDaemon(in: directory)
        /// `cdnsd ARGS --config …` in a mount namespace of its own where libcrypto.so.3 is an empty file.
        func withoutLibcrypto(_ arguments: [String]) throws -> (status: Int32, output: String) {
            _ = try directory.file("cdnsd.toml", cdnsd.toml(svc: [], other: []))
            let command = ([Programs.cdnsd] + arguments + ["--config", cdnsd.configurationPath]).map { "'\($0)'" }.joined(separator: " ")
            return try ManagedProcess.run(try Programs.require("unshare"), [
                "--mount", "--propagation", "private", "sh", "-c", "mount --bind /dev/null \(library) && exec \(command)",
            ])
        }
        #expect(try withoutLibcrypto(["check-config"]).status == 0)
        cdnsd.sections = """
            [[tsig]]
            name = "plain"
            secret_file = "plain.key"
            allow = ["svc.test"]
            """
        for arguments in [["check-config"], ["serve"]] {
            let refused = try withoutLibcrypto(arguments)
            #expect(refused.status != 0, "\(arguments): \(refused.output)")
            #expect(refused.output.contains("tsig") && refused.output.contains("libcrypto.so.3"), "\(arguments): \(refused.output)")
        }
        #expect(try cdnsd.command(["check-config"]).status == 0, "the same configuration passes where libcrypto loads")
    }

    @Test("[[tsig]] keys with the secret in a file (base64 or a BIND key clause) or the environment sign UPDATEs; check-config validates them")
    func staticKeys() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fileSecret = Base64.encode(Array(repeating: 0x11, count: 32))
        let envSecret = Base64.encode(Array(repeating: 0x22, count: 64))
        let bindFile = try directory.file("dhcp.key", "key \"dhcp\" {\n\talgorithm hmac-sha256;\n\tsecret \"\(fileSecret)\";\n};\n")
        let plainFile = try directory.file("plain.key", fileSecret + "\n")
        let sections = """
            [[tsig]]
            name = "dhcp"
            secret_file = "\(bindFile)"
            allow = ["*.hosts.svc.test"]
            types = ["A", "TXT"]
            names = true

            [[tsig]]
            name = "static-certbot"
            algorithm = "hmac-sha512"
            secret_env = "STATIC_TSIG_SECRET"
            allow = ["*.svc.test"]
            from = ["127.0.0.0/8"]

            [[tsig]]
            name = "plain"
            secret_file = "plain.key"
            allow = ["svc.test"]

            [[tsig]]
            name = "secondary"
            secret_file = "plain.key"
            transfer = true
            """
        var server = try UpdateTests.Server(in: directory, environment: ["STATIC_TSIG_SECRET": envSecret], sections: sections)
        defer { server.cdnsd.stop() }
        let port = server.cdnsd.dnsPort

        let checked = try server.cdnsd.command(["check-config"])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.contains("tsig dhcp.\thmac-sha256\tallow=*.hosts.svc.test\tfrom=any\ttypes=A,TXT\tscope=names"), "\(checked.output)")
        #expect(checked.output.contains("tsig static-certbot.\thmac-sha512\tallow=*.svc.test\tfrom=127.0.0.0/8\ttypes=TXT\tscope=challenges"))
        #expect(checked.output.contains("tsig plain.\thmac-sha256\tallow=svc.test"))
        #expect(checked.output.contains("tsig secondary.\thmac-sha256\tallow=\tfrom=any\ttypes=TXT\tscope=transfer"), "\(checked.output)")
        #expect(!checked.output.contains(fileSecret) && !checked.output.contains(envSecret))

        let dhcp = TSIGCredential(name: "dhcp.", algorithm: .hmacSHA256, secret: Base64.decode(fileSecret) ?? [])
        let certbot = TSIGCredential(name: "static-certbot.", algorithm: .hmacSHA512, secret: Base64.decode(envSecret) ?? [])
        let plain = TSIGCredential(name: "plain.", algorithm: .hmacSHA256, secret: Base64.decode(fileSecret) ?? [])
        #expect(try Self.send([ResourceRecord(name: "db.hosts.svc.test.", ttl: 120, data: .a(IPv4Address(rawValue: 0x0A00_0009)))], with: dhcp, port: port) == .noError)
        #expect(try Self.addresses("db.hosts.svc.test.", port: port) == ["10.0.0.9"])
        #expect(try Self.send([UpdateHostileTests.add("from-env", at: "_acme-challenge.www.svc.test.")], with: certbot, port: port, id: 61) == .noError)
        #expect(try server.cdnsd.txt("_acme-challenge.www.svc.test.") == ["from-env"])
        #expect(try Self.send([UpdateHostileTests.add("apex", at: "_acme-challenge.svc.test.")], with: plain, port: port, id: 62) == .noError)
        #expect(try Self.send([UpdateHostileTests.add("no", at: "_acme-challenge.www.svc.test.")], with: plain, port: port, id: 63) == .refused)
        let secondary = TSIGCredential(name: "secondary.", algorithm: .hmacSHA256, secret: Base64.decode(fileSecret) ?? [])
        #expect(try Self.send([UpdateHostileTests.add("no", at: "_acme-challenge.www.svc.test.")], with: secondary, port: port, id: 64) == .refused, "a transfer key never updates")

        // The CLI shows them and leaves them to the file.
        let listed = try server.cdnsd.command(["tsig", "list"])
        #expect(listed.output.contains("dhcp.\thmac-sha256") && listed.output.contains("source=config") && !listed.output.contains(fileSecret), "\(listed.output)")
        let removed = try server.cdnsd.command(["tsig", "remove", "dhcp"])
        #expect(removed.status != 0 && removed.output.contains("[[tsig]]"), "\(removed.output)")
        let replaced = try server.cdnsd.command(["tsig", "add", "dhcp", "--allow", "*"])
        #expect(replaced.status != 0 && replaced.output.contains("[[tsig]]"), "\(replaced.output)")

        // check-config refuses what would not work, naming the key, never printing a secret.
        let inline = "c2VjcmV0LXRoYXQtbXVzdC1ub3QtYmUtcHJpbnRlZA=="
        let cases: [(table: String, message: String)] = [
            ("name = \"a\"\nsecret = \"\(inline)\"\nallow = [\"*\"]", "inline secret is refused by default"),
            ("name = \"a\"\nsecret_file = \"/nonexistent/a.key\"\nallow = [\"*\"]", "cannot read"),
            ("name = \"a\"\nsecret_env = \"CDNS_TEST_UNSET_VARIABLE\"\nallow = [\"*\"]", "is not set"),
            ("name = \"a\"\nalgorithm = \"hmac-md5\"\nsecret_file = \"\(plainFile)\"\nallow = [\"*\"]", "allow_md5 = true"),
            ("name = \"a\"\nalgorithm = \"hmac-sha3\"\nsecret_file = \"\(plainFile)\"\nallow = [\"*\"]", "expected hmac-sha256"),
            ("name = \"a\"\nsecret_file = \"\(try directory.file("bad.key", "not base64!\n"))\"\nallow = [\"*\"]", "not base64"),
            ("name = \"a\"\nsecret_file = \"\(plainFile)\"", "at least one name pattern"),
            ("name = \"a\"\nsecret_file = \"\(plainFile)\"\ntransfer = true\nallow = [\"*\"]", "takes no allow"),
            ("name = \"a\"\nsecret_file = \"\(plainFile)\"\nallow = [\"*\"]\ntypes = [\"A\"]", "need names = true"),
            ("name = \"a\"\nsecret_file = \"\(plainFile)\"\nallow = [\"*\"]\ntypes = [\"SOA\"]\nnames = true", "types[0]"),
            ("name = \"a\"\nsecret_file = \"\(plainFile)\"\nallow = [\"*\"]\nfrom = [\"10.0.0.0/33\"]", "CIDR"),
            ("name = \"a\"\nsecret_file = \"\(plainFile)\"\nsecret_env = \"X\"\nallow = [\"*\"]", "exactly one of"),
            ("name = \"a\"\nsecret_file = \"\(plainFile)\"\nallow = [\"*\"]\nsecrets = \"x\"", "unknown key"),
            ("secret_file = \"\(plainFile)\"\nallow = [\"*\"]", "needs a key name"),
        ]
        for (index, item) in cases.enumerated() {
            var probe = server.cdnsd
            probe.sections = "[[tsig]]\n" + item.table + "\n"
            let file = try directory.file("bad-\(index).toml", probe.toml())
            let result = try ManagedProcess.run(Programs.cdnsd, ["check-config", "--config", file])
            #expect(result.status != 0 && result.output.contains("tsig[0]") && result.output.contains(item.message), "\(item.table): \(result.output)")
            #expect(!result.output.contains(inline), "the inline secret is never printed")
        }
        var allowed = server.cdnsd
        allowed.sections = "[[tsig]]\nname = \"a\"\nsecret = \"\(inline)\"\ninline_secret = true\nallow = [\"*\"]\n"
        let accepted = try ManagedProcess.run(Programs.cdnsd, ["check-config", "--config", try directory.file("inline.toml", allowed.toml())])
        #expect(accepted.status == 0 && !accepted.output.contains(inline), "\(accepted.output)")
        #expect(server.cdnsd.process?.output.contains(fileSecret) == false && server.cdnsd.process?.output.contains(envSecret) == false)
    }

    @Test("records a widened key adds are permanent zone data: they raise the serial and survive a restart, as challenge values do")
    func permanentRecordsSurviveRestart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var server = try UpdateTests.Server(in: directory)
        defer { server.cdnsd.stop() }
        let hostsSecret = try await server.addKey("hosts", ["--allow", "*.hosts.svc.test", "--names", "--types", "A,AAAA,CNAME"])
        let acmeSecret = try await server.addKey("acme", ["--allow", "*.svc.test"])
        let hosts = TSIGCredential(name: "hosts.", algorithm: .hmacSHA256, secret: Base64.decode(hostsSecret) ?? [])
        let acme = TSIGCredential(name: "acme.", algorithm: .hmacSHA256, secret: Base64.decode(acmeSecret) ?? [])
        let port = server.cdnsd.dnsPort
        let before = try UpdateHostileTests.serial(port: port)
        #expect(try Self.send([ResourceRecord(name: "db.hosts.svc.test.", ttl: 300, data: .a(IPv4Address(rawValue: 0x0A01_0203)))], with: hosts, port: port) == .noError)
        let afterAdd = try UpdateHostileTests.serial(port: port)
        #expect(afterAdd &- before > 0 && afterAdd &- before < 1 << 31, "the serial moves forward (RFC 1982): \(before) → \(afterAdd)")
        #expect(try Self.send([UpdateHostileTests.add("durable", at: "_acme-challenge.db.hosts.svc.test.")], with: acme, port: port, id: 61) == .noError)
        let served = try UpdateHostileTests.serial(port: port)

        server.cdnsd.stop()
        try server.cdnsd.start()
        let restarted = server.cdnsd.dnsPort
        #expect(try Self.addresses("db.hosts.svc.test.", port: restarted) == ["10.1.2.3"], "the A record survived the restart")
        #expect(try server.cdnsd.txt("_acme-challenge.db.hosts.svc.test.") == ["durable"])
        #expect(try UpdateHostileTests.serial(port: restarted) == served, "the serial is kept across the restart")

        // And a delete is as permanent, moving the serial again.
        #expect(try Self.send([ResourceRecord(name: "db.hosts.svc.test.", class: .any, ttl: 0, data: .opaque(.a, []))], with: hosts, port: restarted, id: 62) == .noError)
        #expect(try Self.addresses("db.hosts.svc.test.", port: restarted) == ["10.8.10.252"], "only the wildcard's A is left")
        #expect(try UpdateHostileTests.serial(port: restarted) &- served == 1)

        // A key removed with the CLI stops working in the running daemon (within about a second).
        #expect(try server.cdnsd.command(["tsig", "remove", "acme"]).status == 0)
        let removed = Date()
        try await waitUntil("the removed key is refused", timeout: 10) {
            try Self.send([], with: acme, port: restarted, id: 63) == .notAuth
        }
        print("a key removed with cdnsd tsig remove was refused \(Int(Date().timeIntervalSince(removed) * 1000)) ms later")
        #expect(try server.cdnsd.txt("_acme-challenge.db.hosts.svc.test.") == ["durable"])
    }
}

/// Signed and unsigned UPDATEs made with cdnsd's own signer, for the
/// hostile matrix: each gets a clear rcode and changes nothing.
@Suite("UPDATE hostile matrix", .blocking, .serialized)
struct UpdateHostileTests {
    static let name: DNSName = "_acme-challenge.a.svc.test."

    static func update(_ updates: [ResourceRecord], zone: DNSName = "svc.test.", id: UInt16 = 77, prerequisites: [ResourceRecord] = []) throws -> [UInt8] {
        try DNSMessage(header: DNSHeader(id: id, opcode: .update), questions: [Question(name: zone, type: .soa)], answers: prerequisites, authority: updates).encode()
    }

    static func add(_ value: String, at name: DNSName = name) -> ResourceRecord {
        ResourceRecord(name: name, ttl: 60, data: .txt(TXT(text: value)))
    }

    static var now: UInt64 { UInt64(Date().timeIntervalSince1970) }

    /// The zone's SOA serial, which moves with every change.
    static func serial(port: UInt16, zone: DNSName = "svc.test.") throws -> UInt32 {
        guard case .soa(let soa)? = try answers(zone, .soa, port: port).first?.data else { throw TestSetupError("no SOA") }
        return soa.serial
    }

    /// The answer section for `name` and `type`, over UDP.
    static func answers(_ name: DNSName, _ type: RRType, port: UInt16) throws -> [ResourceRecord] {
        try DNSMessage(decoding: try TestDNSClient.udp(try DNSMessage(header: DNSHeader(id: 3), questions: [Question(name: name, type: type)]).encode(), port: port)).answers
    }

    @Test("no TSIG, wrong key, wrong secret, short MAC, stale time, replay, foreign scope, SOA and NS, zone not served, oversized UDP, garbage",
          .enabled(if: Programs.runnable("dig")))
    func hostileMatrix() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var server = try UpdateTests.Server(in: directory, environment: ["CDNS_LOG_FORMAT": "json"])
        defer { server.cdnsd.stop() }
        let port = server.cdnsd.dnsPort
        let secret = try await server.addKey("matrix", ["--allow", "*.svc.test"])
        let legacy = try await server.addKey("legacy", ["--algorithm", "hmac-md5", "--allow-md5", "--allow", "*.svc.test"])
        let sha1 = try await server.addKey("old-client", ["--algorithm", "hmac-sha1", "--allow", "*.svc.test"])
        let key = TSIGCredential(name: "matrix.", algorithm: .hmacSHA256, secret: Base64.decode(secret) ?? [])
        let oldKey = TSIGCredential(name: "old-client.", algorithm: .hmacSHA1, secret: Base64.decode(sha1) ?? [])
        let signer = TSIGSigner(credential: key)

        // One value is live; every case below must leave it, and the serial, alone.
        let setup = signer.sign(request: try Self.update([Self.add("kept")]), time: Self.now)
        #expect(try DNSMessage(decoding: try TestDNSClient.udp(setup.message, port: port)).header.rcode == .noError)
        let replayable = signer.sign(request: try Self.update([Self.add("replayed")], id: 78), time: Self.now - 20)
        let serial = try Self.serial(port: port)
        let otherSerial = try Self.serial(port: port, zone: "other.test.")

        func truncated(_ credential: TSIGCredential, to length: Int) throws -> [UInt8] {
            let full = TSIGSigner(credential: credential).sign(request: try Self.update([Self.add("short")]), time: Self.now).message
            var message = try DNSMessage(decoding: full)
            guard case .tsig(var record)? = message.additional.last?.data else { throw TestSetupError("unsigned") }
            record.mac = Array(record.mac.prefix(length))
            message.additional[message.additional.count - 1].data = .tsig(record)
            return try message.encode()
        }
        var wrongSecret = key
        wrongSecret.secret[0] ^= 0xFF
        var garbageTSIGPlacement = try DNSMessage(decoding: signer.sign(request: try Self.update([Self.add("g")]), time: Self.now).message)
        garbageTSIGPlacement.additional.append(ResourceRecord(name: "x.svc.test.", ttl: 0, data: .a(IPv4Address(rawValue: 1))))
        let many = (0..<40).map { Self.add(String(repeating: "x", count: 120) + "\($0)") }

        typealias Case = (what: String, bytes: [UInt8], rcode: ResponseCode, tsigError: ResponseCode?)
        let cases: [Case] = [
            ("no TSIG", try Self.update([Self.add("unsigned")]), .refused, nil),
            ("wrong key name", TSIGSigner(credential: TSIGCredential(name: "nobody.", algorithm: .hmacSHA256, secret: key.secret)).sign(request: try Self.update([Self.add("k")]), time: Self.now).message, .notAuth, .badKey),
            ("md5 with a sha256 key", TSIGSigner(credential: TSIGCredential(name: "matrix.", algorithm: .hmacMD5, secret: key.secret)).sign(request: try Self.update([Self.add("k")]), time: Self.now).message, .notAuth, .badKey),
            ("wrong secret", TSIGSigner(credential: wrongSecret).sign(request: try Self.update([Self.add("s")]), time: Self.now).message, .notAuth, .badSig),
            ("MAC below RFC 8945's minimum", try truncated(key, to: 8), .formErr, nil),
            ("MAC below local policy", try truncated(oldKey, to: 12), .notAuth, .badTrunc),
            ("time outside fudge", signer.sign(request: try Self.update([Self.add("late")]), time: Self.now - 600).message, .notAuth, .badTime),
            ("replayed message", setup.message, .notAuth, .badTime),
            ("key scoped to another name", signer.sign(request: try Self.update([Self.add("o", at: "_acme-challenge.x.other.test.")], zone: "other.test."), time: Self.now).message, .refused, nil),
            ("name outside the zone", signer.sign(request: try Self.update([Self.add("o", at: "_acme-challenge.x.other.test.")]), time: Self.now).message, .notZone, nil),
            ("SOA change", signer.sign(request: try Self.update([ResourceRecord(name: "svc.test.", class: .any, ttl: 0, data: .opaque(.soa, []))]), time: Self.now).message, .refused, nil),
            ("apex NS change", signer.sign(request: try Self.update([ResourceRecord(name: "svc.test.", ttl: 60, data: .ns("ns9.svc.test."))]), time: Self.now).message, .refused, nil),
            ("zone not served", signer.sign(request: try Self.update([Self.add("z", at: "_acme-challenge.nowhere.example.")], zone: "nowhere.example."), time: Self.now).message, .notAuth, nil),
            ("oversized UDP", signer.sign(request: try Self.update(many), time: Self.now).message, .formErr, nil),
            ("garbage: two zones", signer.sign(request: try DNSMessage(header: DNSHeader(id: 77, opcode: .update), questions: [Question(name: "svc.test.", type: .soa), Question(name: "svc.test.", type: .soa)], authority: [Self.add("g")]).encode(), time: Self.now).message, .formErr, nil),
            ("garbage: prerequisite class CH", signer.sign(request: try Self.update([Self.add("g")], prerequisites: [ResourceRecord(name: Self.name, class: .chaos, ttl: 0, data: .opaque(.txt, []))]), time: Self.now).message, .formErr, nil),
            ("garbage: update of type ANY in class IN", signer.sign(request: try Self.update([ResourceRecord(name: Self.name, ttl: 0, data: .opaque(.any, [1]))]), time: Self.now).message, .formErr, nil),
            ("garbage: a record after the TSIG", try garbageTSIGPlacement.encode(), .formErr, nil),
            ("garbage: cut short", Array(setup.message.dropLast(9)), .formErr, nil),
        ]
        // Counters before the cases (the key probes of addKey count too).
        let metricsBefore = Self.samples(try Curl.get("\(server.cdnsd.apiURL)/metrics").body)
        let oversized = cases.first { $0.what == "oversized UDP" }?.bytes.count ?? 0
        #expect(oversized > 4096, "the oversized case is \(oversized) bytes")
        for item in cases {
            let bytes = try TestDNSClient.udp(item.bytes, port: port)
            let reply = try DNSMessage(decoding: bytes)
            #expect(reply.header.rcode == item.rcode, "\(item.what): \(reply.header.rcode)")
            if case .tsig(let record)? = reply.additional.last?.data {
                #expect(record.error == (item.tsigError ?? .noError), "\(item.what): TSIG error \(record.error)")
                switch item.tsigError {
                case .badKey?, .badSig?:
                    // RFC 8945 §5.3.2: not signed, an empty MAC.
                    #expect(record.mac.isEmpty, "\(item.what): the reply is unsigned")
                case .badTime?, .badTrunc?:
                    // Signed with the request's key over the request's MAC (§5.3.2, §5.3.3).
                    let request = try DNSMessage(decoding: item.bytes)
                    guard case .tsig(let sent)? = request.additional.last?.data, let keyName = request.additional.last?.name else {
                        Issue.record("\(item.what): the request is unsigned")
                        continue
                    }
                    let credential = keyName == oldKey.name ? oldKey : key
                    if case .failure(let error) = TSIGVerifier.verifyResponse(bytes, credential: credential, requestMAC: sent.mac) {
                        Issue.record("\(item.what): the reply's signature: \(error)")
                    }
                    if item.tsigError == .badTime {
                        // Other Data: the server's time, 48 bits.
                        #expect(record.otherData.count == 6, "BADTIME carries the server's time")
                        let serverTime = record.otherData.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                        #expect(serverTime.distance(to: Self.now).magnitude <= 60, "\(item.what): server time \(serverTime), now \(Self.now)")
                    }
                default:
                    break
                }
            } else {
                #expect(item.tsigError == nil, "\(item.what): no TSIG in the reply")
            }
            #expect(try server.cdnsd.txt("_acme-challenge.a.svc.test.") == ["kept"], "\(item.what) changed the challenge values")
            #expect(try Self.serial(port: port) == serial, "\(item.what) changed the zone")
            // The cases that name other.test or a zone not served wrote nothing there either.
            #expect(try server.cdnsd.txt("_acme-challenge.x.other.test.").isEmpty, "\(item.what) wrote to other.test")
            #expect(try Self.serial(port: port, zone: "other.test.") == otherSerial, "\(item.what) changed other.test")
        }
        // The replay was refused, while a fresh message with the same content is accepted; so is an
        // older one never seen (concurrent clients of one key), once.
        let fresh = signer.sign(request: try Self.update([Self.add("replayed")], id: 79), time: Self.now)
        let reply = try TestDNSClient.udp(fresh.message, port: port)
        #expect(try DNSMessage(decoding: reply).header.rcode == .noError)
        _ = try TSIGVerifier.verifyResponse(reply, credential: key, requestMAC: fresh.mac).get()
        #expect(try DNSMessage(decoding: try TestDNSClient.udp(replayable.message, port: port)).header.rcode == .noError)
        #expect(try DNSMessage(decoding: try TestDNSClient.udp(replayable.message, port: port)).header.rcode == .notAuth)
        #expect(try server.cdnsd.txt("_acme-challenge.a.svc.test.").sorted() == ["kept", "replayed"])
        // hmac-md5 works for a key made with --allow-md5 (and only there: "md5 with a sha256 key" above).
        let md5 = TSIGSigner(credential: TSIGCredential(name: "legacy.", algorithm: .hmacMD5, secret: Base64.decode(legacy) ?? []))
            .sign(request: try Self.update([Self.add("md5")], id: 91), time: Self.now)
        #expect(try DNSMessage(decoding: try TestDNSClient.udp(md5.message, port: port)).header.rcode == .noError)
        #expect(try server.cdnsd.txt("_acme-challenge.a.svc.test.").sorted() == ["kept", "md5", "replayed"])
        // hmac-sha1 is accepted for old clients (and logged as weak below).
        let old = TSIGSigner(credential: oldKey).sign(request: try Self.update([Self.add("sha1")], id: 92), time: Self.now)
        let oldReply = try TestDNSClient.udp(old.message, port: port)
        #expect(try DNSMessage(decoding: oldReply).header.rcode == .noError)
        _ = try TSIGVerifier.verifyResponse(oldReply, credential: oldKey, requestMAC: old.mac).get()
        #expect(try server.cdnsd.txt("_acme-challenge.a.svc.test.").sorted() == ["kept", "md5", "replayed", "sha1"])

        let output = server.cdnsd.process?.output ?? ""
        #expect(!output.contains(secret) && !output.contains(sha1) && !output.contains(legacy), "the secrets never reach the log")
        // One structured line per UPDATE: key, zone, names, outcome, source.
        let lines = output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        let updates = lines.filter { $0["msg"] == "UPDATE" }
        #expect(updates.contains { $0["key"] == "matrix." && $0["outcome"] == "NOERROR" && $0["names"] == "_acme-challenge.a.svc.test." && $0["zone"] == "svc.test."
            && $0["source"]?.contains("127.0.0.1") == true && $0["added"] == "1" }, "\(updates)")
        #expect(updates.contains { $0["key"] == "legacy." && $0["outcome"] == "NOERROR" })
        #expect(updates.contains { $0["key"] == "matrix." && $0["outcome"] == "REFUSED" && $0["reason"]?.contains("outside the key's scope") == true })
        #expect(updates.contains { $0["key"] == "matrix." && $0["outcome"] == "NOTZONE" && $0["reason"]?.contains("outside svc.test.") == true })
        #expect(lines.contains { $0["msg"] == "unsigned UPDATE refused" && $0["zone"] == "svc.test." })
        #expect(lines.contains { $0["msg"] == "TSIG verification failed" && $0["key"] == "matrix." && $0["error"] == "BADSIG" })
        #expect(lines.contains { $0["msg"] == "TSIG key uses a weak algorithm" && $0["key"] == "legacy." })
        #expect(lines.contains { $0["msg"] == "TSIG key uses a weak algorithm" && $0["key"] == "old-client." })

        // Metrics: updates by outcome and key, TSIG failures by error.
        let metrics = try Curl.get("\(server.cdnsd.apiURL)/metrics")
        #expect(metrics.status == 200)
        let samples = Self.samples(metrics.body)
        func value(_ name: String, _ labels: [String: String]) -> Double {
            func find(_ list: [(name: String, labels: [String: String], value: Double)]) -> Double { list.first { $0.name == name && $0.labels == labels }?.value ?? 0 }
            return find(samples) - find(metricsBefore)
        }
        #expect(value("cdnsd_dns_updates_total", ["outcome": "NOERROR", "key": "matrix"]) == 2, "the fresh one and the older one; \(metrics.body)")
        #expect(value("cdnsd_dns_updates_total", ["outcome": "NOERROR", "key": "legacy"]) == 1)
        #expect(value("cdnsd_dns_updates_total", ["outcome": "NOERROR", "key": "old-client"]) == 1)
        #expect(value("cdnsd_dns_updates_total", ["outcome": "REFUSED", "key": "-"]) == 1, "the unsigned one")
        #expect(value("cdnsd_dns_updates_total", ["outcome": "REFUSED", "key": "matrix"]) == 3, "scope, SOA, apex NS")
        #expect(value("cdnsd_dns_updates_total", ["outcome": "NOTZONE", "key": "matrix"]) == 1)
        #expect(value("cdnsd_dns_updates_total", ["outcome": "NOTAUTH", "key": "-"]) == 7, "every TSIG failure of an UPDATE counts under key -")
        #expect(value("cdnsd_tsig_failures_total", ["error": "BADKEY"]) == 2)
        #expect(value("cdnsd_tsig_failures_total", ["error": "BADSIG"]) == 1)
        #expect(value("cdnsd_tsig_failures_total", ["error": "BADTIME"]) == 3, "outside the fudge once, replayed twice")
        #expect(value("cdnsd_tsig_failures_total", ["error": "BADTRUNC"]) == 1)
        #expect(value("cdnsd_tsig_failures_total", ["error": "FORMERR"]) >= 2, "MAC below the minimum, a record after the TSIG")
    }

    @Test("a key widened to NS and other types at the apex still never changes the SOA or the apex NS")
    func soaAndApexNSStay() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var server = try UpdateTests.Server(in: directory)
        defer { server.cdnsd.stop() }
        let port = server.cdnsd.dnsPort
        let secret = try await server.addKey("wide", ["--names", "--types", "A,TXT,NS,MX", "--allow", "svc.test", "--allow", "*.svc.test"])
        let signer = TSIGSigner(credential: TSIGCredential(name: "wide.", algorithm: .hmacSHA256, secret: Base64.decode(secret) ?? []))
        func send(_ updates: [ResourceRecord], id: UInt16) throws -> ResponseCode {
            let signed = signer.sign(request: try Self.update(updates, id: id), time: Self.now)
            return try DNSMessage(decoding: try TestDNSClient.udp(signed.message, port: port)).header.rcode
        }
        let apex: DNSName = "svc.test."
        let soa = try Self.answers(apex, .soa, port: port)
        let ns = try Self.answers(apex, .ns, port: port).map(\.description).sorted()
        #expect(soa.count == 1 && ns == ["svc.test. 3600 IN NS ns.svc.test."], "\(soa) \(ns)")
        let apexA = ResourceRecord(name: apex, ttl: 60, data: .a(IPv4Address(rawValue: 0x0A08_0A01)))
        let cases: [(what: String, updates: [ResourceRecord])] = [
            ("add an apex NS", [ResourceRecord(name: apex, ttl: 60, data: .ns("ns9.svc.test."))]),
            ("delete the apex NS RRset", [ResourceRecord(name: apex, class: .any, ttl: 0, data: .opaque(.ns, []))]),
            ("delete the one apex NS", [ResourceRecord(name: apex, class: .none, ttl: 0, data: .ns("ns.svc.test."))]),
            ("add a SOA", [ResourceRecord(name: apex, ttl: 60, data: soa[0].data)]),
            ("delete the SOA RRset", [ResourceRecord(name: apex, class: .any, ttl: 0, data: .opaque(.soa, []))]),
            ("an allowed A at the apex with an apex NS", [apexA, ResourceRecord(name: apex, ttl: 60, data: .ns("ns9.svc.test."))]),
        ]
        for (index, item) in cases.enumerated() {
            #expect(try send(item.updates, id: UInt16(200 + index)) == .refused, "\(item.what)")
            #expect(try Self.answers(apex, .soa, port: port) == soa, "\(item.what) changed the SOA")
            #expect(try Self.answers(apex, .ns, port: port).map(\.description).sorted() == ns, "\(item.what) changed the apex NS")
            #expect(try Self.answers(apex, .a, port: port).isEmpty, "\(item.what): all or nothing")
        }
        // What the key does cover at the apex is written, and deleting every
        // RRset there (RFC 2136 §3.4.2.3) leaves the SOA and the NS.
        #expect(try send([apexA, ResourceRecord(name: apex, ttl: 60, data: .txt(TXT(text: "site-verification")))], id: 220) == .noError)
        #expect(try Self.answers(apex, .a, port: port).map(\.description) == ["svc.test. 60 IN A 10.8.10.1"])
        #expect(try send([ResourceRecord(name: apex, class: .any, ttl: 0, data: .opaque(.any, []))], id: 221) == .noError)
        #expect(try Self.answers(apex, .a, port: port).isEmpty && Self.answers(apex, .txt, port: port).isEmpty)
        #expect(try Self.answers(apex, .ns, port: port).map(\.description).sorted() == ns)
        guard case .soa(let before)? = soa.first?.data, case .soa(let after)? = try Self.answers(apex, .soa, port: port).first?.data else {
            Issue.record("no SOA")
            return
        }
        #expect(after.mname == before.mname && after.rname == before.rname && after.serial != before.serial, "the zone changed twice; its SOA is its own")
        // The rule is the apex only: a delegation below it is the key's to make.
        #expect(try send([ResourceRecord(name: "lab.svc.test.", ttl: 60, data: .ns("ns.lab.svc.test."))], id: 222) == .noError)
    }

    /// Prometheus text: each sample's name, labels and value.
    static func samples(_ text: String) -> [(name: String, labels: [String: String], value: Double)] {
        text.split(separator: "\n").compactMap { line -> (String, [String: String], Double)? in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let head = line[..<space]
            guard let open = head.firstIndex(of: "{") else { return (String(head), [:], value) }
            var labels: [String: String] = [:]
            for pair in head[head.index(after: open)..<(head.lastIndex(of: "}") ?? head.endIndex)].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { labels[String(parts[0])] = String(parts[1].dropFirst().dropLast()) }
            }
            return (String(head[..<open]), labels, value)
        }
    }
}

/// The same UPDATE messages to cdnsd and to knotd with the same key and
/// zone: the same rcodes and the same resulting TXT RRsets.
@Suite("UPDATE differential with knotd", .blocking, .serialized)
struct UpdateDifferentialTests {
    static let secret = "ZGlmZmVyZW50aWFsLXVwZGF0ZS1rZXktZm9yLWtub3Q="

    static func knot(in directory: TemporaryDirectory) throws -> (ManagedProcess, UInt16) {
        let knotd = try Programs.require("knotd")
        let port = try TestDNSClient.freePort()
        let zone = try directory.file("knot-svc.test.zone", """
            svc.test. 3600 IN SOA ns.svc.test. admin.svc.test. 1 7200 3600 1209600 60
            svc.test. 3600 IN NS ns.svc.test.
            ns.svc.test. 3600 IN A 127.0.0.1
            *.svc.test. 3600 IN A 10.8.10.252

            """)
        try FileManager.default.createDirectory(at: directory.url.appendingPathComponent("knotdb"), withIntermediateDirectories: true)
        let configuration = try directory.file("knot-update.conf", """
            server:
                listen: 127.0.0.1@\(port)
                rundir: \(directory.url.path)
            database:
                storage: \(directory.url.path)/knotdb
            key:
              - id: diff.
                algorithm: hmac-sha256
                secret: \(secret)
            acl:
              - id: update
                key: diff.
                action: update
            zone:
              - domain: svc.test
                file: \(zone)
                storage: \(directory.url.path)/knotdb
                zonefile-sync: -1
                semantic-checks: off
                acl: update
            log:
              - target: stderr
                any: warning
            """)
        let process = try ManagedProcess(knotd, ["-c", configuration], directory: directory)
        try TestDNSClient.waitUntilServing(port: port, zone: "svc.test.", process: process)
        return (process, port)
    }

    static func txt(_ value: String, at label: String, class rrClass: RRClass = .in) -> ResourceRecord {
        ResourceRecord(name: try! DNSName("_acme-challenge.\(label).svc.test."), class: rrClass, ttl: rrClass == .none ? 0 : 60, data: .txt(TXT(text: value)))
    }

    static func empty(_ label: String, _ rrClass: RRClass, _ type: RRType) -> ResourceRecord {
        ResourceRecord(name: try! DNSName("_acme-challenge.\(label).svc.test."), class: rrClass, ttl: 0, data: .opaque(type, []))
    }

    @Test("prerequisite failures, every delete form, out-of-zone, wrong class, zone not served", .enabled(if: Programs.runnable("knotd")))
    func sameAsKnot() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var server = try UpdateTests.Server(in: directory)
        defer { server.cdnsd.stop() }
        let added = try server.cdnsd.command(["tsig", "add", "diff", "--allow", "*.svc.test"])
        #expect(added.status == 0)
        let secret = try #require(added.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count))
        let knotDirectory = try TemporaryDirectory()
        defer { knotDirectory.remove() }
        let (knot, knotPort) = try Self.knot(in: knotDirectory)
        defer { knot.stop() }
        // `cdnsd tsig add` makes its own secret: each server's messages are signed with its own.
        let cdnsdKey = TSIGCredential(name: "diff.", algorithm: .hmacSHA256, secret: Base64.decode(secret) ?? [])
        let knotKey = TSIGCredential(name: "diff.", algorithm: .hmacSHA256, secret: Base64.decode(Self.secret) ?? [])
        try await waitUntil("cdnsd knows the key", timeout: 30) {
            let probe = TSIGSigner(credential: cdnsdKey).sign(request: try UpdateHostileTests.update([]), time: UpdateHostileTests.now)
            return try DNSMessage(decoding: try TestDNSClient.udp(probe.message, port: server.cdnsd.dnsPort)).header.rcode == .noError
        }

        // Each step with the rcode RFC 2136 gives it: both servers must give
        // that one, so that the run cannot pass with both refusing everything.
        // knotd's key may update anything; cdnsd's TXT at the challenge
        // names of *.svc.test, which is all these steps touch.
        typealias Step = (what: String, zone: DNSName, prerequisites: [ResourceRecord], updates: [ResourceRecord], rcode: ResponseCode)
        let outside = ResourceRecord(name: "_acme-challenge.x.other.test.", ttl: 60, data: .txt(TXT(text: "o")))
        let steps: [Step] = [
            ("add v1", "svc.test.", [], [Self.txt("v1", at: "a")], .noError),
            ("add v2 and v3", "svc.test.", [], [Self.txt("v2", at: "a"), Self.txt("v3", at: "a")], .noError),
            ("RRset exists: met", "svc.test.", [Self.empty("a", .any, .txt)], [Self.txt("v4", at: "a")], .noError),
            ("RRset exists: not met", "svc.test.", [Self.empty("b", .any, .txt)], [Self.txt("x", at: "b")], .nxRRset),
            ("RRset does not exist: not met", "svc.test.", [Self.empty("a", .none, .txt)], [Self.txt("x", at: "a")], .yxRRset),
            ("name in use: not met", "svc.test.", [Self.empty("b", .any, .any)], [Self.txt("x", at: "b")], .nxDomain),
            ("name not in use: not met", "svc.test.", [Self.empty("a", .none, .any)], [Self.txt("x", at: "a")], .yxDomain),
            ("name not in use: met", "svc.test.", [Self.empty("b", .none, .any)], [Self.txt("b1", at: "b")], .noError),
            ("value-dependent: met, delete one RR", "svc.test.",
             ["v1", "v2", "v3", "v4"].map { var r = Self.txt($0, at: "a"); r.ttl = 0; return r }, [Self.txt("v4", at: "a", class: .none)], .noError),
            ("value-dependent: not met", "svc.test.", [{ var r = Self.txt("v9", at: "a"); r.ttl = 0; return r }()], [Self.txt("x", at: "a")], .nxRRset),
            ("prerequisite outside the zone", "svc.test.", [ResourceRecord(name: "x.other.test.", class: .any, ttl: 0, data: .opaque(.any, []))], [Self.txt("x", at: "a")], .notZone),
            ("prerequisite with a TTL", "svc.test.", [ResourceRecord(name: "_acme-challenge.a.svc.test.", class: .any, ttl: 60, data: .opaque(.txt, []))], [Self.txt("x", at: "a")], .formErr),
            ("delete an RRset", "svc.test.", [], [Self.empty("a", .any, .txt)], .noError),
            ("out of zone", "svc.test.", [], [outside], .notZone),
            ("out of zone after an add", "svc.test.", [], [Self.txt("x", at: "a"), outside], .notZone),
            ("wrong class", "svc.test.", [], [Self.txt("c", at: "a", class: .chaos)], .formErr),
            ("zone not served", "nowhere.test.", [], [ResourceRecord(name: "_acme-challenge.nowhere.test.", ttl: 60, data: .txt(TXT(text: "n")))], .notAuth),
            ("add to b again", "svc.test.", [], [Self.txt("b2", at: "b")], .noError),
            ("delete all RRsets at a name", "svc.test.", [], [Self.empty("b", .any, .any)], .noError),
        ]
        for (index, step) in steps.enumerated() {
            let message = try DNSMessage(header: DNSHeader(id: UInt16(100 + index), opcode: .update), questions: [Question(name: step.zone, type: .soa)],
                                         answers: step.prerequisites, authority: step.updates).encode()
            let now = UpdateHostileTests.now
            let ours = try DNSMessage(decoding: try TestDNSClient.udp(TSIGSigner(credential: cdnsdKey).sign(request: message, time: now).message, port: server.cdnsd.dnsPort))
            let theirs = try DNSMessage(decoding: try TestDNSClient.udp(TSIGSigner(credential: knotKey).sign(request: message, time: now).message, port: knotPort))
            #expect(ours.header.rcode == step.rcode && theirs.header.rcode == step.rcode,
                    "\(step.what): cdnsd \(ours.header.rcode), knotd \(theirs.header.rcode), RFC 2136 \(step.rcode)")
            for label in ["a", "b"] {
                let name = try DNSName("_acme-challenge.\(label).svc.test.")
                let mine = try TestDNSClient.txtValues(name, port: server.cdnsd.dnsPort).sorted()
                let knots = try TestDNSClient.txtValues(name, port: knotPort).sorted()
                #expect(mine == knots, "\(step.what): \(name) cdnsd \(mine), knotd \(knots)")
            }
        }
    }
}
