import DNSServer
import DNSWire
import Foundation
import Testing

/// RFC 2136 UPDATE signed with TSIG against the real daemon: nsupdate and
/// knsupdate, lego's and certbot's rfc2136 clients issuing from pebble, and
/// a hostile matrix of messages made here with cdnsd's own signer.
@Suite("UPDATE with TSIG", .serialized)
struct UpdateTests {
    /// A daemon with keys made by `cdnsd tsig add` while it runs.
    struct Server {
        var cdnsd: ChallengeDaemon
        var secrets: [String: String] = [:]

        init(in directory: TemporaryDirectory) throws {
            cdnsd = try ChallengeDaemon(in: directory)
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
          .enabled(if: Programs.runnable("nsupdate", "knsupdate")))
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
                #expect(try server.cdnsd.txt(name).contains(value), "\(tool) \(extra) \(algorithm)")
                let delete = try directory.file("delete.txt", Self.script(port: port, ["update delete \(name) TXT \"\(value)\""]))
                let deleted = try ManagedProcess.run(tool, extra + ["-y", y, delete])
                #expect(deleted.status == 0, "\(tool) \(extra) delete: \(deleted.output)")
                #expect(try !server.cdnsd.txt(name).contains(value))
            }
        }
        // A key scoped elsewhere is refused, and nsupdate says so.
        let narrow = try await server.addKey("narrow", ["--allow", "one.svc.test"])
        let refused = try ManagedProcess.run(nsupdate, ["-y", "hmac-sha256:narrow:\(narrow)",
            try directory.file("refused.txt", Self.script(port: port, ["update add \(name) 60 TXT \"no\""]))])
        #expect(refused.status != 0 && refused.output.contains("REFUSED"), "\(refused.output)")
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

/// Signed and unsigned UPDATEs made with cdnsd's own signer, for the
/// hostile matrix: each gets a clear rcode and changes nothing.
@Suite("UPDATE hostile matrix", .serialized)
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
    static func serial(port: UInt16) throws -> UInt32 {
        let reply = try DNSMessage(decoding: try TestDNSClient.udp(try DNSMessage(header: DNSHeader(id: 3), questions: [Question(name: "svc.test.", type: .soa)]).encode(), port: port))
        guard case .soa(let soa)? = reply.answers.first?.data else { throw TestSetupError("no SOA") }
        return soa.serial
    }

    @Test("no TSIG, wrong key, wrong secret, short MAC, stale time, replay, foreign scope, SOA and NS, zone not served, oversized UDP, garbage",
          .enabled(if: Programs.runnable("dig")))
    func hostileMatrix() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var server = try UpdateTests.Server(in: directory)
        defer { server.cdnsd.stop() }
        let port = server.cdnsd.dnsPort
        let secret = try await server.addKey("matrix", ["--allow", "*.svc.test"])
        let sha1 = try await server.addKey("old-client", ["--algorithm", "hmac-sha1", "--allow", "*.svc.test"])
        let key = TSIGCredential(name: "matrix.", algorithm: .hmacSHA256, secret: Base64.decode(secret) ?? [])
        let oldKey = TSIGCredential(name: "old-client.", algorithm: .hmacSHA1, secret: Base64.decode(sha1) ?? [])
        let signer = TSIGSigner(credential: key)

        // One value is live; every case below must leave it, and the serial, alone.
        let setup = signer.sign(request: try Self.update([Self.add("kept")]), time: Self.now)
        #expect(try DNSMessage(decoding: try TestDNSClient.udp(setup.message, port: port)).header.rcode == .noError)
        let replayable = signer.sign(request: try Self.update([Self.add("replayed")], id: 78), time: Self.now - 20)
        let serial = try Self.serial(port: port)

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
            ("replayed older message", replayable.message, .notAuth, .badTime),
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
        let oversized = cases.first { $0.what == "oversized UDP" }?.bytes.count ?? 0
        #expect(oversized > 4096, "the oversized case is \(oversized) bytes")
        for item in cases {
            let reply = try DNSMessage(decoding: try TestDNSClient.udp(item.bytes, port: port))
            #expect(reply.header.rcode == item.rcode, "\(item.what): \(reply.header.rcode)")
            if case .tsig(let record)? = reply.additional.last?.data {
                #expect(record.error == (item.tsigError ?? .noError), "\(item.what): TSIG error \(record.error)")
                if item.tsigError == .badTime {
                    #expect(record.otherData.count == 6, "BADTIME carries the server's time")
                }
            } else {
                #expect(item.tsigError == nil, "\(item.what): no TSIG in the reply")
            }
            #expect(try server.cdnsd.txt("_acme-challenge.a.svc.test.") == ["kept"], "\(item.what) changed the challenge values")
            #expect(try Self.serial(port: port) == serial, "\(item.what) changed the zone")
        }
        // BADTIME and BADTRUNC replies are signed with the request's key; BADSIG ones are not.
        let late = signer.sign(request: try Self.update([Self.add("late")], id: 90), time: Self.now - 600)
        _ = try TSIGVerifier.verifyResponse(try TestDNSClient.udp(late.message, port: port), credential: key, requestMAC: late.mac).get()
        // The replay was refused, while a fresh message with the same content is accepted.
        let fresh = signer.sign(request: try Self.update([Self.add("replayed")], id: 79), time: Self.now)
        let reply = try TestDNSClient.udp(fresh.message, port: port)
        #expect(try DNSMessage(decoding: reply).header.rcode == .noError)
        _ = try TSIGVerifier.verifyResponse(reply, credential: key, requestMAC: fresh.mac).get()
        #expect(try server.cdnsd.txt("_acme-challenge.a.svc.test.").sorted() == ["kept", "replayed"])
        #expect(server.cdnsd.process?.output.contains(secret) == false, "the secret never reaches the log")
    }
}

/// The same UPDATE messages to cdnsd and to knotd with the same key and
/// zone: the same rcodes and the same resulting TXT RRsets.
@Suite("UPDATE differential with knotd", .serialized)
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
                update-type: [TXT]
                update-owner: name
                update-owner-match: sub
                update-owner-name: [svc.test.]
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

        typealias Step = (what: String, zone: DNSName, prerequisites: [ResourceRecord], updates: [ResourceRecord])
        let steps: [Step] = [
            ("add v1", "svc.test.", [], [Self.txt("v1", at: "a")]),
            ("add v2 and v3", "svc.test.", [], [Self.txt("v2", at: "a"), Self.txt("v3", at: "a")]),
            ("RRset exists: met", "svc.test.", [Self.empty("a", .any, .txt)], [Self.txt("v4", at: "a")]),
            ("RRset exists: not met", "svc.test.", [Self.empty("b", .any, .txt)], [Self.txt("x", at: "b")]),
            ("RRset does not exist: not met", "svc.test.", [Self.empty("a", .none, .txt)], [Self.txt("x", at: "a")]),
            ("name in use: not met", "svc.test.", [Self.empty("b", .any, .any)], [Self.txt("x", at: "b")]),
            ("name not in use: not met", "svc.test.", [Self.empty("a", .none, .any)], [Self.txt("x", at: "a")]),
            ("name not in use: met", "svc.test.", [Self.empty("b", .none, .any)], [Self.txt("b1", at: "b")]),
            ("value-dependent: met, delete one RR", "svc.test.",
             ["v1", "v2", "v3", "v4"].map { var r = Self.txt($0, at: "a"); r.ttl = 0; return r }, [Self.txt("v4", at: "a", class: .none)]),
            ("value-dependent: not met", "svc.test.", [{ var r = Self.txt("v9", at: "a"); r.ttl = 0; return r }()], [Self.txt("x", at: "a")]),
            ("delete an RRset", "svc.test.", [], [Self.empty("a", .any, .txt)]),
            ("out of zone", "svc.test.", [], [ResourceRecord(name: "_acme-challenge.x.other.test.", ttl: 60, data: .txt(TXT(text: "o")))]),
            ("wrong class", "svc.test.", [], [Self.txt("c", at: "a", class: .chaos)]),
            ("zone not served", "nowhere.test.", [], [ResourceRecord(name: "_acme-challenge.nowhere.test.", ttl: 60, data: .txt(TXT(text: "n")))]),
            ("delete all RRsets at a name", "svc.test.", [], [Self.empty("b", .any, .any)]),
        ]
        // Where knotd's ACL answers before RFC 2136 does: an owner outside
        // the ACL's names, and a type-ANY delete with `update-type: [TXT]`,
        // are NOTAUTH there. cdnsd answers NOTZONE (RFC 2136 §3.4.1.3) and
        // deletes what the key's types cover.
        let knownDifferences: [String: (cdnsd: ResponseCode, knot: ResponseCode)] = [
            "out of zone": (.notZone, .notAuth),
            "delete all RRsets at a name": (.noError, .notAuth),
        ]
        for (index, step) in steps.enumerated() {
            let message = try DNSMessage(header: DNSHeader(id: UInt16(100 + index), opcode: .update), questions: [Question(name: step.zone, type: .soa)],
                                         answers: step.prerequisites, authority: step.updates).encode()
            let now = UpdateHostileTests.now
            let ours = try DNSMessage(decoding: try TestDNSClient.udp(TSIGSigner(credential: cdnsdKey).sign(request: message, time: now).message, port: server.cdnsd.dnsPort))
            let theirs = try DNSMessage(decoding: try TestDNSClient.udp(TSIGSigner(credential: knotKey).sign(request: message, time: now).message, port: knotPort))
            if let known = knownDifferences[step.what] {
                #expect(ours.header.rcode == known.cdnsd && theirs.header.rcode == known.knot, "\(step.what): cdnsd \(ours.header.rcode), knotd \(theirs.header.rcode)")
                if step.what == "delete all RRsets at a name" {
                    #expect(try TestDNSClient.txtValues("_acme-challenge.b.svc.test.", port: server.cdnsd.dnsPort).isEmpty)
                    continue
                }
            } else {
                #expect(ours.header.rcode == theirs.header.rcode, "\(step.what): cdnsd \(ours.header.rcode), knotd \(theirs.header.rcode)")
            }
            for label in ["a", "b"] {
                let name = try DNSName("_acme-challenge.\(label).svc.test.")
                let mine = try TestDNSClient.txtValues(name, port: server.cdnsd.dnsPort).sorted()
                let knots = try TestDNSClient.txtValues(name, port: knotPort).sorted()
                #expect(mine == knots, "\(step.what): \(name) cdnsd \(mine), knotd \(knots)")
            }
        }
    }
}
