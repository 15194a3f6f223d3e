import CDNSTestSupport
import DNSWire
import Foundation
import Testing

/// The recipes of Docs/recipes run as written: the cdnsd configuration of
/// Docs/recipes/README.md (`toml recipe:cdnsd-config`) is served, with
/// only its listen addresses and data path moved to loopback test values
/// through the documented `CDNS_*` variables, and each page's `sh
/// recipe:NAME` blocks run in one `/bin/sh -e`, with the site variables the
/// README lists pointing at that cdnsd and at pebble standing in for the CA.
/// The certificates they get are verified with openssl. One test at a time:
/// each starts cdnsd, pebble and a client, and the rest of the suite runs beside them.
@Suite("Recipes of Docs/recipes, run from the Markdown", .blocking, .serialized)
struct RecipeTests {
    static let recipes = Programs.repositoryRoot.appendingPathComponent("Docs/recipes")

    /// A fenced block: the line its fence opens on, the words of its info string, its text.
    struct Fence {
        var line: Int
        var info: [String]
        var body: String
    }

    /// The fenced blocks of a Markdown text, in order.
    static func fences(_ text: String) -> [Fence] {
        var fences: [Fence] = []
        var current: (fence: Fence, lines: [String])?
        for (index, line) in text.components(separatedBy: "\n").enumerated() {
            if line.hasPrefix("```") {
                if var block = current {
                    block.fence.body = block.lines.joined(separator: "\n")
                    fences.append(block.fence)
                    current = nil
                } else {
                    current = (Fence(line: index + 1, info: line.dropFirst(3).split(separator: " ").map(String.init), body: ""), [])
                }
            } else {
                current?.lines.append(line)
            }
        }
        return fences
    }

    /// The fenced blocks of `page` whose info string names `recipe:NAME`.
    static func blocks(_ page: String, _ name: String) throws -> [String] {
        let text = try String(contentsOf: recipes.appendingPathComponent(page), encoding: .utf8)
        let blocks = fences(text).filter { $0.info.contains("recipe:\(name)") }.map(\.body)
        guard !blocks.isEmpty else { throw TestSetupError("no recipe:\(name) block in Docs/recipes/\(page)") }
        return blocks
    }

    /// Why a block may go unrun (Docs/recipes/README.md lists them).
    static let notRunReasons: Set<String> = ["site", "program", "docker", "kubernetes", "fragment"]

    /// What is wrong with the marks of `text`'s blocks: one with no language, with neither
    /// `recipe:NAME` nor `not-run:REASON`, with both, or with a reason not in the list.
    static func markProblems(_ text: String) -> [String] {
        fences(text).compactMap { fence in
            let recipe = fence.info.filter { $0.hasPrefix("recipe:") }
            let notRun = fence.info.filter { $0.hasPrefix("not-run:") }.map { String($0.dropFirst("not-run:".count)) }
            if fence.info.first.map({ $0.contains(":") }) ?? true { return "line \(fence.line): no language" }
            if recipe.count + notRun.count != 1 { return "line \(fence.line): \(fence.info.joined(separator: " ")): needs recipe:NAME or not-run:REASON" }
            if let reason = notRun.first, !notRunReasons.contains(reason) { return "line \(fence.line): not-run:\(reason) is not one of \(notRunReasons.sorted())" }
            return nil
        }
    }

    @Test("every block of Docs/recipes is run by a test or says why not; fragments parse", .enabled(if: Programs.runnable("python3")))
    func everyBlockIsRunOrMarked() throws {
        let pages = try FileManager.default.contentsOfDirectory(atPath: Self.recipes.path).filter { $0.hasSuffix(".md") }.sorted()
        #expect(pages.count >= 7, "\(pages)")
        let testFolder = Programs.repositoryRoot.appendingPathComponent("Tests/IntegrationTests")
        let tests = try FileManager.default.contentsOfDirectory(atPath: testFolder.path).filter { $0.hasSuffix(".swift") }
            .map { try String(contentsOf: testFolder.appendingPathComponent($0), encoding: .utf8) }.joined()
        let python = try Programs.require("python3")
        for page in pages {
            let text = try String(contentsOf: Self.recipes.appendingPathComponent(page), encoding: .utf8)
            for problem in Self.markProblems(text) { Issue.record("Docs/recipes/\(page) \(problem)") }
            for fence in Self.fences(text) {
                for name in fence.info.filter({ $0.hasPrefix("recipe:") }).map({ $0.dropFirst("recipe:".count) }) {
                    #expect(tests.contains("\"\(name)\""), "Docs/recipes/\(page) line \(fence.line): no test runs recipe:\(name)")
                }
                guard fence.info.contains("not-run:fragment") else { continue }
                let parser = ["yaml": "import sys, yaml; yaml.safe_load(sys.argv[1])", "toml": "import sys, tomllib; tomllib.loads(sys.argv[1])"]
                let code = try #require(parser[fence.info[0]], "Docs/recipes/\(page) line \(fence.line): a \(fence.info[0]) fragment cannot be parsed")
                let parsed = try ManagedProcess.run(python, ["-c", code, fence.body])
                #expect(parsed.status == 0, "Docs/recipes/\(page) line \(fence.line): \(parsed.output)")
            }
        }
        // The negative cases: an unmarked block, a made-up reason, and both marks are caught.
        #expect(Self.markProblems("```sh\necho\n```\n```sh not-run:later\n```\n```sh recipe:a not-run:site\n```\n```sh not-run:site\n```\n").count == 3)
    }

    /// The site variables of Docs/recipes/README.md (`NAME=value` lines of its variables block).
    static func siteVariables() throws -> Set<String> {
        let text = try String(contentsOf: recipes.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = text.range(of: "## 2. The values the pages use") else { throw TestSetupError("README.md lost its variables section") }
        return Set(text[start.upperBound...].components(separatedBy: "\n").compactMap { line in
            line.range(of: #"^[A-Z_]+(?==)"#, options: .regularExpression).map { String(line[$0]) }
        })
    }

    /// cdnsd with the recipes' configuration, and the variables the blocks read.
    struct Site {
        let directory: TemporaryDirectory
        let process: ManagedProcess
        let dnsPort: UInt16
        let apiPort: UInt16
        var environment: [String: String]

        static func start(in directory: TemporaryDirectory) throws -> Site {
            let dnsPort = try TestDNSClient.freePort()
            let apiPort = try TestDNSClient.freePort()
            let configuration = try directory.file("cdnsd.toml", try blocks("README.md", "cdnsd-config")[0])
            let cdnsdEnvironment = [
                "CDNS_DNS_LISTEN": "127.0.0.1:\(dnsPort)", "CDNS_API_LISTEN": "127.0.0.1:\(apiPort)",
                "CDNS_STORAGE_PATH": directory.url.appendingPathComponent("data/cdnsd.sqlite").path,
            ]
            let process = try ManagedProcess(Programs.cdnsd, ["serve", "--config", configuration], environment: cdnsdEnvironment, directory: directory)
            try TestDNSClient.waitUntilServing(port: dnsPort, zone: "svc.dev.", process: process)
            try Curl.waitFor("http://127.0.0.1:\(apiPort)/health", process: process)
            let binaries = URL(fileURLWithPath: Programs.cdnsd).deletingLastPathComponent().path
            var environment = cdnsdEnvironment.merging([
                "PATH": binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
                "CDNSD_CONFIG": configuration, "CDNSD_API": "http://127.0.0.1:\(apiPort)",
                "DNS_HOST": "127.0.0.1", "DNS_PORT": "\(dnsPort)", "DNS_SERVER": "127.0.0.1:\(dnsPort)",
                "CERTBOT_DIR": directory.url.appendingPathComponent("certbot").path,
            ]) { $1 }
            if let python = ProcessInfo.processInfo.environment["CDNS_CERTBOT_PYTHON"] { environment["CERTBOT_PYTHON"] = python }
            return Site(directory: directory, process: process, dnsPort: dnsPort, apiPort: apiPort, environment: environment)
        }

        mutating func use(_ pebble: PebbleServer) {
            environment["ACME_DIRECTORY"] = pebble.directoryURL
            environment["CA_ROOT"] = pebble.httpsCA
        }

        /// Runs the blocks in one shell in the site's directory.
        func run(_ blocks: [String], timeout: Double = 240) throws -> (status: Int32, output: String) {
            let script = "cd '\(directory.url.path)'\nset -x\n" + blocks.joined(separator: "\n")
            return try ManagedProcess.run("/bin/sh", ["-ec", script], environment: environment, timeout: timeout)
        }

        func expectCertificate(_ path: String, pebble: PebbleServer) throws {
            let chain = directory.url.appendingPathComponent(path).path
            #expect(FileManager.default.fileExists(atPath: chain), "no certificate at \(chain)")
            let verified = try OpenSSL.verify(chain: chain, root: try pebble.issuingRoot(in: directory))
            #expect(verified.ok, "\(verified.output)")
            #expect(try OpenSSL.dnsNames(chain) == ["*.svc.dev", "svc.dev"])
        }

        func read(_ name: String) -> String {
            (try? String(contentsOf: directory.url.appendingPathComponent(name), encoding: .utf8)) ?? ""
        }
    }

    /// Starts cdnsd and pebble, runs the page's blocks and checks the certificate at `certificate`.
    func issue(page: String, recipe: String, certificate: String, nonceRejection: Bool = true) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var site = try Site.start(in: directory)
        defer { site.process.stop() }
        let pebble = try PebbleServer.start(in: directory, dnsPort: site.dnsPort, nonceRejection: nonceRejection)
        defer { pebble.process.stop() }
        site.use(pebble)
        let run = try site.run(try Self.blocks(page, recipe))
        #expect(run.status == 0, "\(run.output)\ncdnsd:\n\(site.process.output)")
        try site.expectCertificate(certificate, pebble: pebble)
    }

    @Test("README's site variables are the ones the tests set")
    func siteVariablesMatch() throws {
        #expect(try Self.siteVariables() == ["CDNSD_CONFIG", "CDNSD_API", "DNS_HOST", "DNS_PORT", "DNS_SERVER", "ACME_DIRECTORY", "CA_ROOT"])
    }

    @Test("lego --dns httpreq (lego.md)", .enabled(if: Programs.runnable("pebble", "lego", "openssl", "curl")))
    func legoHTTPReq() throws {
        try issue(page: "lego.md", recipe: "lego-httpreq", certificate: "lego/certificates/_.svc.dev.crt")
    }

    @Test("lego --dns rfc2136 (lego.md)", .enabled(if: Programs.runnable("pebble", "lego", "openssl")))
    func legoRFC2136() throws {
        try issue(page: "lego.md", recipe: "lego-rfc2136", certificate: "lego/certificates/_.svc.dev.crt")
    }

    // certbot 2.1 retries a badNonce once and then fails; its retry is not under test.
    @Test("certbot --dns-rfc2136 (certbot.md)", .enabled(if: Programs.runnable("pebble", "certbot", "openssl")))
    func certbotRFC2136() throws {
        try issue(page: "certbot.md", recipe: "certbot-rfc2136", certificate: "certbot/live/svc.dev/fullchain.pem", nonceRejection: false)
    }

    @Test("certbot -a dns-acmedns (certbot.md)", .enabled(if: ChallengeEndToEndTests.certbotReady))
    func certbotACMEDNS() throws {
        guard ProcessInfo.processInfo.environment["CDNS_CERTBOT_PYTHON"] != nil else {
            throw TestSetupError("CDNS_CERTBOT_PYTHON is not set; Scripts/test.sh makes a venv with certbot-dns-acmedns")
        }
        try issue(page: "certbot.md", recipe: "certbot-acmedns", certificate: "certbot/live/svc.dev/fullchain.pem", nonceRejection: false)
    }

    @Test("acme.sh dns_nsupdate's nsupdate calls (acme.sh.md)", .enabled(if: Programs.runnable("nsupdate", "dig")))
    func acmeshNsupdate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let site = try Site.start(in: directory)
        defer { site.process.stop() }
        let run = try site.run(try Self.blocks("acme.sh.md", "acmesh-nsupdate"), timeout: 60)
        #expect(run.status == 0, "\(run.output)\ncdnsd:\n\(site.process.output)")
        #expect(site.read("added.txt") == "\"XKrxpRBosdIKFzxW_CT3KLZNf6q0HG9i01zxXp5CPBs\"\n", "\(run.output)")
        #expect(site.read("removed.txt").isEmpty)
        #expect(site.process.output.contains("key=acmesh"), "cdnsd logged no update by the key")
    }

    @Test("acme.sh dns_acmedns's curl call (acme.sh.md)", .enabled(if: Programs.runnable("curl", "dig")))
    func acmeshACMEDNS() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var site = try Site.start(in: directory)
        defer { site.process.stop() }
        // No CA is involved; the hook's curl still passes --cacert, which must be a readable file.
        site.environment["CA_ROOT"] = try directory.file("ca.pem", "")
        let run = try site.run(try Self.blocks("acme.sh.md", "acmesh-acmedns"), timeout: 60)
        #expect(run.status == 0, "\(run.output)\ncdnsd:\n\(site.process.output)")
        let served = site.read("served.txt").split(separator: "\n")
        #expect(served.last == "\"XKrxpRBosdIKFzxW_CT3KLZNf6q0HG9i01zxXp5CPBs\"", "\(served)")
        #expect(served.first?.hasSuffix(".svc.dev.") == true, "no CNAME to the account's fulldomain: \(served)")
    }

    @Test("lego --dns acme-dns's storage file and /update call (lego.md)", .enabled(if: Programs.runnable("curl", "dig")))
    func legoACMEDNS() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let site = try Site.start(in: directory)
        defer { site.process.stop() }
        let run = try site.run(try Self.blocks("lego.md", "lego-acmedns"), timeout: 60)
        #expect(run.status == 0, "\(run.output)\ncdnsd:\n\(site.process.output)")
        // goacmedns's storage.File: a JSON object keyed by the domain lego passes (no "*."), each
        // entry an Account with these JSON names; its server_url is the API lego is given.
        let file = try JSONSerialization.jsonObject(with: Data(site.read("lego/acme-dns.json").utf8)) as? [String: [String: Any]]
        #expect(file.map { Array($0.keys) } == ["svc.dev"], "\(site.read("lego/acme-dns.json"))")
        let account = try #require(file?["svc.dev"])
        for key in ["fulldomain", "subdomain", "username", "password", "server_url"] { #expect(account[key] is String, "\(key) missing") }
        #expect(account["server_url"] as? String == site.environment["CDNSD_API"])
        let served = site.read("served.txt").split(separator: "\n")
        #expect(served.last == "\"XKrxpRBosdIKFzxW_CT3KLZNf6q0HG9i01zxXp5CPBs\"", "\(served)")
        #expect(served.first == "\(account["fulldomain"] as? String ?? "?").", "no CNAME to the account's fulldomain: \(served)")
    }

    /// Caddy validates through the system resolver and is reached by name,
    /// so this one runs in network, mount and PID namespaces of its own: lo
    /// only, /etc/resolv.conf naming cdnsd on 127.0.0.1:53, ca.svc.dev in
    /// /etc/hosts, /var/lib/caddy a temporary directory. --kill-child ends
    /// every process in them with the shell.
    @Test("Caddy's acme_server as the CA, lego httpreq as the client (caddy.md), in namespaces of its own",
          .enabled(if: Programs.runnable("caddy", "unshare", "ip", "lego", "openssl", "curl", "dig")))
    func caddyCA() throws {
        let unshare = try Programs.require("unshare")
        _ = try Programs.require("caddy")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let root = directory.url.path
        _ = try directory.file("Caddyfile", try Self.blocks("caddy.md", "caddy-ca")[0])
        let configuration = try directory.file("cdnsd.toml", try Self.blocks("README.md", "cdnsd-config")[0])
        _ = try directory.file("resolv.conf", "nameserver 127.0.0.1\n")
        _ = try directory.file("hosts", "127.0.0.1 localhost ca.svc.dev\n")
        for folder in ["caddy", "home"] { try FileManager.default.createDirectory(at: directory.url.appendingPathComponent(folder), withIntermediateDirectories: true) }
        try FileManager.default.createDirectory(atPath: "/var/lib/caddy", withIntermediateDirectories: true)
        let script = """
            ip link set lo up
            mount --bind '\(root)/resolv.conf' /etc/resolv.conf
            mount --bind '\(root)/hosts' /etc/hosts
            mount --bind '\(root)/caddy' /var/lib/caddy
            cd '\(root)'
            cdnsd serve --config "$CDNSD_CONFIG" > cdnsd.log 2>&1 &
            HOME='\(root)/home' XDG_DATA_HOME='\(root)/home' XDG_CONFIG_HOME='\(root)/home' caddy run --config Caddyfile --adapter caddyfile > caddy.log 2>&1 &
            for i in $(seq 200); do dig @127.0.0.1 +short svc.dev SOA | grep -q . && break; sleep 0.1; done
            \(try Self.blocks("caddy.md", "caddy-site")[0])
            for i in $(seq 300); do [ -f "$CA_ROOT" ] && curl -s --cacert "$CA_ROOT" -o /dev/null "$ACME_DIRECTORY" && break; sleep 0.1; done
            set -x
            \(try Self.blocks("lego.md", "lego-httpreq").joined(separator: "\n"))
            """
        let binaries = URL(fileURLWithPath: Programs.cdnsd).deletingLastPathComponent().path
        let run = try ManagedProcess.run(unshare, ["--mount", "--net", "--pid", "--kill-child", "--mount-proc", "/bin/sh", "-ec", script], environment: [
            "PATH": binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "CDNS_DNS_LISTEN": "127.0.0.1:53", "CDNS_API_LISTEN": "127.0.0.1:8053", "CDNS_STORAGE_PATH": "\(root)/data/cdnsd.sqlite",
            "CDNSD_CONFIG": configuration, "CDNSD_API": "http://127.0.0.1:8053", "DNS_HOST": "127.0.0.1", "DNS_PORT": "53", "DNS_SERVER": "127.0.0.1:53",
        ], timeout: 240)
        let logs = ["cdnsd.log", "caddy.log"].map { "\($0):\n" + ((try? String(contentsOfFile: "\(root)/\($0)", encoding: .utf8)) ?? "") }.joined(separator: "\n")
        #expect(run.status == 0, "\(run.output)\n\(logs)")
        let chain = "\(root)/lego/certificates/_.svc.dev.crt"
        let verified = try OpenSSL.verify(chain: chain, root: "\(root)/caddy/pki/authorities/local/root.crt")
        #expect(verified.ok, "\(verified.output)")
        #expect(try OpenSSL.dnsNames(chain) == ["*.svc.dev", "svc.dev"])
    }
}
