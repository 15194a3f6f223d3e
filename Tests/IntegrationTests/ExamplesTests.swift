import CDNSTestSupport
import Foundation
import Testing

/// Examples/ validated: the configurations pass `cdnsd check-config`, the
/// systemd unit `systemd-analyze verify`, the Containerfile names only
/// files that exist and installs what cdnsd links, the Compose and
/// Kubernetes files parse as YAML and agree with cdnsd, and Traefik's lego
/// settings from the Compose file issue a certificate from pebble.
@Suite("Examples/ validated", .blocking, .serialized)
struct ExamplesTests {
    static let examples = Programs.repositoryRoot.appendingPathComponent("Examples")

    static func checkConfig(_ file: String, _ environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try ManagedProcess.run(Programs.cdnsd, ["check-config", "--config", examples.appendingPathComponent(file).path], environment: environment)
    }

    /// A YAML file (every document) as JSON values, parsed by PyYAML.
    static func yaml(_ file: String) throws -> [Any] {
        let python = try Programs.require("python3")
        let run = try ManagedProcess.run(python, ["-c", "import sys, yaml, json; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
                                                  examples.appendingPathComponent(file).path])
        guard run.status == 0, let documents = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [Any] else {
            throw TestSetupError("\(file) is not YAML (python3 with PyYAML, Debian's python3-yaml):\n\(run.output)")
        }
        return documents
    }

    @Test("the configurations of Examples/ pass check-config", arguments: [
        ("svc.dev.toml", [String: String]()),
        ("container.toml", ["CDNS_DNS_LISTEN": "0.0.0.0:5353,[::]:5353", "CDNS_API_LISTEN": "0.0.0.0:8053", "CDNS_STORAGE_PATH": "/var/lib/cdnsd/cdnsd.sqlite"]),
        ("traefik-step-ca/cdnsd.toml", [:]),
        ("production/postgres-replicas.toml", ["CDNS_STORAGE_URL": "postgres://cdnsd:secret@db.svc.dev:5432/cdnsd?sslmode=require"]),
    ])
    func configurationsCheck(file: String, environment: [String: String]) throws {
        let run = try Self.checkConfig(file, environment)
        #expect(run.status == 0, "\(file): \(run.output)")
        #expect(run.output.contains("svc.dev"), "\(run.output)")
    }

    @Test("production/svc.dev.toml passes check-config once its CA root exists, and names it when it does not")
    func productionConfiguration() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = try Self.checkConfig("production/svc.dev.toml")
        if !FileManager.default.isReadableFile(atPath: "/etc/cdnsd/root_ca.crt") {
            #expect(missing.status == 78, "\(missing.output)")
            #expect(missing.output.contains("acme.ca_roots = \"/etc/cdnsd/root_ca.crt\": cannot read this file"), "\(missing.output)")
        }
        let root = try directory.file("root_ca.crt", "")
        let run = try Self.checkConfig("production/svc.dev.toml", ["CDNS_ACME_CA_ROOTS": root])
        #expect(run.status == 0, "\(run.output)")
    }

    @Test("cdnsd.service: the options issue 18 asks for, and systemd-analyze verify prints nothing", .enabled(if: Programs.runnable("systemd-analyze")))
    func systemdUnit() throws {
        let unit = try String(contentsOf: Self.examples.appendingPathComponent("cdnsd.service"), encoding: .utf8)
        for option in ["Type=simple", "DynamicUser=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "StateDirectory=cdnsd", "ProtectSystem=strict",
                       "NoNewPrivileges=yes", "SystemCallFilter=@system-service", "ExecReload=/bin/kill -HUP $MAINPID",
                       "ExecStart=/usr/local/bin/cdnsd serve --config /etc/cdnsd/cdnsd.toml"] {
            #expect(unit.components(separatedBy: "\n").contains(option), "\(option) missing")
        }
        // verify wants ExecStart's binary to exist: the built one stands in for /usr/local/bin/cdnsd.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let analyze = try Programs.require("systemd-analyze")
        let installed = try directory.file("cdnsd.service", unit.replacingOccurrences(of: "/usr/local/bin/cdnsd", with: Programs.cdnsd))
        let run = try ManagedProcess.run(analyze, ["verify", installed])
        #expect(run.status == 0 && run.output.isEmpty, "systemd-analyze verify: \(run.output)")
        // The negative case: verify reports a misspelt option (and still exits 0, so the output decides).
        let broken = try directory.file("broken.service", unit.replacingOccurrences(of: "/usr/local/bin/cdnsd", with: Programs.cdnsd)
            .replacingOccurrences(of: "ProtectSystem=strict", with: "ProtectSytem=strict"))
        let refused = try ManagedProcess.run(analyze, ["verify", broken])
        #expect(refused.output.contains("Unknown key"), "\(refused.output)")
    }

    @Test("Containerfile: copies what exists, installs what cdnsd links, runs as a non-root user with known CDNS_* variables")
    func containerfile() throws {
        let text = try String(contentsOf: Self.examples.appendingPathComponent("Containerfile"), encoding: .utf8)
        let lines = text.replacingOccurrences(of: "\\\n", with: " ").components(separatedBy: "\n").filter { !$0.hasPrefix("#") }
        let stages = lines.filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2, "\(stages)")
        let runtimeStart = try #require(lines.lastIndex { $0.hasPrefix("FROM ") })
        let runtime = Array(lines[runtimeStart...])
        // Every COPY from the build context exists in the repository.
        for line in lines where line.hasPrefix("COPY ") && !line.contains("--from=") {
            let parts = line.split(separator: " ").dropFirst().map(String.init)
            for source in parts.dropLast() {
                #expect(FileManager.default.fileExists(atPath: Programs.repositoryRoot.appendingPathComponent(source).path), "COPY \(source): no such file")
            }
        }
        // Non-root.
        let user = try #require(runtime.last { $0.hasPrefix("USER ") })
        #expect(!["USER root", "USER 0", "USER root:root", "USER 0:0"].contains(user))
        // The runtime stage installs the Debian packages of every library cdnsd links outside the Swift runtime
        // (linked statically by --static-swift-stdlib).
        let install = runtime.first { $0.contains("apt-get install") } ?? ""
        let ldd = try ManagedProcess.run("/usr/bin/ldd", [Programs.cdnsd])
        for line in ldd.output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[1] == "=>", !fields[2].contains("/swift/") else { continue }
            let dpkg = try ManagedProcess.run("/usr/bin/dpkg", ["-S", String(fields[2]).replacingOccurrences(of: "/usr/lib/", with: "/lib/")])
            guard let package = dpkg.output.split(separator: ":").first.map(String.init), dpkg.status == 0 else { continue }
            if ["libc6", "libgcc-s1"].contains(package) { continue }  // in every Debian image
            #expect(install.split(separator: " ").contains { $0 == package }, "\(fields[2]) comes from \(package), which the runtime stage does not install")
        }
        // libcrypto.so.3 is opened when first needed (COpenSSL's LibCrypto.c), so ldd does not list it.
        let libcrypto = try ManagedProcess.run("/usr/bin/dpkg", ["-S", "libcrypto.so.3"])
        let libcryptoPackage = libcrypto.output.split(separator: "\n").first { $0.hasSuffix("/libcrypto.so.3") }?.split(separator: ":").first.map(String.init)
        #expect(libcryptoPackage.map { package in install.split(separator: " ").contains { $0 == package } } == true,
                "libcrypto.so.3 comes from \(libcryptoPackage ?? "no package"), which the runtime stage does not install")
        // The ENV the image sets is accepted by cdnsd with the configuration it copies.
        var environment: [String: String] = [:]
        if let env = runtime.first(where: { $0.hasPrefix("ENV ") }) {
            let regex = try NSRegularExpression(pattern: #"([A-Z_]+)="([^"]*)""#)
            for match in regex.matches(in: env, range: NSRange(env.startIndex..., in: env)) {
                guard let name = Range(match.range(at: 1), in: env), let value = Range(match.range(at: 2), in: env) else { continue }
                environment[String(env[name])] = String(env[value])
            }
        }
        #expect(environment.keys.contains("CDNS_DNS_LISTEN"))
        let run = try Self.checkConfig("container.toml", environment)
        #expect(run.status == 0, "\(run.output)")
        #expect(text.contains("COPY Examples/container.toml /etc/cdnsd/cdnsd.toml") && text.contains("\"--config\", \"/etc/cdnsd/cdnsd.toml\""))
    }

    @Test("cert-manager manifests: YAML with the fields the solvers need", .enabled(if: Programs.runnable("python3")))
    func certManagerManifests() throws {
        var hosts: [String] = []
        for (file, solver) in [("kubernetes/cert-manager-rfc2136.yaml", "rfc2136"), ("kubernetes/cert-manager-acme-dns.yaml", "acmeDNS")] {
            let documents = try Self.yaml(file).compactMap { $0 as? [String: Any] }
            #expect(documents.map { $0["kind"] as? String } == ["ClusterIssuer", "Certificate"], "\(file)")
            for document in documents { #expect(document["apiVersion"] as? String == "cert-manager.io/v1") }
            let acme = try #require((documents[0]["spec"] as? [String: Any])?["acme"] as? [String: Any])
            #expect((acme["server"] as? String)?.hasSuffix("/directory") == true)
            #expect(Data(base64Encoded: acme["caBundle"] as? String ?? "") != nil, "caBundle is not base64")
            let solvers = try #require(acme["solvers"] as? [[String: Any]])
            let dns01 = try #require(solvers.first?["dns01"] as? [String: Any])
            let settings = try #require(dns01[solver] as? [String: Any], "\(file): no \(solver) solver")
            if solver == "rfc2136" {
                #expect(["HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"].contains(settings["tsigAlgorithm"] as? String ?? ""))
                #expect(settings["nameserver"] as? String == "10.8.10.253:53")
                #expect(settings["tsigKeyName"] as? String == "cert-manager")
                #expect((settings["tsigSecretSecretRef"] as? [String: Any])?["key"] as? String == "secret")
            } else {
                hosts.append(settings["host"] as? String ?? "")
                #expect((settings["accountSecretRef"] as? [String: Any])?["key"] as? String == "acmedns.json")
            }
            let certificate = try #require(documents[1]["spec"] as? [String: Any])
            #expect(certificate["dnsNames"] as? [String] == ["svc.dev", "*.svc.dev"])
            let issuer = try #require(certificate["issuerRef"] as? [String: Any])
            #expect(issuer["name"] as? String == (documents[0]["metadata"] as? [String: Any])?["name"] as? String)
        }
        // The account file cert-manager reads: what `cdnsd account add` prints with the production
        // configuration the page names, keyed by the name, its server URL the manifest's host.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = Self.examples.appendingPathComponent("production/svc.dev.toml").path
        let added = try ManagedProcess.run(Programs.cdnsd, ["account", "add", "--for", "svc.dev", "--config", configuration],
                                           environment: ["CDNS_STORAGE_PATH": directory.url.appendingPathComponent("data/cdnsd.sqlite").path])
        let output = added.output
        #expect(added.status == 0, "\(output)")
        let start = try #require(output.firstIndex(of: "{"), "\(output)")
        let end = try #require(output.lastIndex(of: "}"), "\(output)")
        let json = String(output[start...end])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [String: Any]]
        let account = try #require(parsed?["svc.dev"], "\(output)")
        for key in ["username", "password", "fulldomain", "subdomain"] { #expect(account[key] is String, "\(key) missing") }
        #expect(hosts == [try #require(account["server_url"] as? String)], "the manifest's host is not the API of production/svc.dev.toml")
        let production = try String(contentsOf: Self.examples.appendingPathComponent("production/svc.dev.toml"), encoding: .utf8)
        #expect(production.contains("listen = [\"10.8.10.253:53\""), "the rfc2136 solver's nameserver is not production/svc.dev.toml's [dns] listen")
    }

    @Test("traefik-step-ca/docker-compose.yml: YAML, consistent with cdnsd, and Traefik's lego settings issue from pebble",
          .enabled(if: Programs.runnable("python3", "docker-compose", "pebble", "lego", "openssl", "curl")))
    func traefikCompose() throws {
        // The Compose Specification schema, as `docker compose config` checks it (Debian's docker-compose
        // needs no Docker engine for that), and the same file with a misspelt key refused.
        let dockerCompose = try Programs.require("docker-compose")
        let file = Self.examples.appendingPathComponent("traefik-step-ca/docker-compose.yml").path
        let validated = try ManagedProcess.run(dockerCompose, ["-f", file, "config", "--quiet"])
        #expect(validated.status == 0 && validated.output.isEmpty, "docker-compose config: \(validated.output)")
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let misspelt = try scratch.file("docker-compose.yml", try String(contentsOfFile: file, encoding: .utf8)
            .replacingOccurrences(of: "    restart: unless-stopped", with: "    restrat: unless-stopped"))
        let refused = try ManagedProcess.run(dockerCompose, ["-f", misspelt, "config", "--quiet"])
        #expect(refused.status != 0 && refused.output.contains("restrat"), "\(refused.output)")

        let compose = try #require(try Self.yaml("traefik-step-ca/docker-compose.yml").first as? [String: Any])
        let services = try #require(compose["services"] as? [String: [String: Any]])
        let folder = Self.examples.appendingPathComponent("traefik-step-ca")
        // cdnsd: built from the Containerfile, its configuration mounted where its command reads it.
        let cdnsd = try #require(services["cdnsd"])
        let build = try #require(cdnsd["build"] as? [String: String])
        let context = folder.appendingPathComponent(build["context"] ?? "").standardized
        #expect(context.path == Programs.repositoryRoot.standardized.path)
        #expect(FileManager.default.fileExists(atPath: context.appendingPathComponent(build["dockerfile"] ?? "").path))
        let command = try #require(cdnsd["command"] as? [String])
        let mounts = (cdnsd["volumes"] as? [String] ?? []).map { $0.split(separator: ":").map(String.init) }
        let configMount = try #require(mounts.first { $0.count >= 2 && $0[1] == command.last })
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(configMount[0]).path), "\(configMount[0]) missing")
        let cdnsdEnvironment = try #require(cdnsd["environment"] as? [String: String])
        let checked = try Self.checkConfig("traefik-step-ca/" + configMount[0], cdnsdEnvironment)
        #expect(checked.status == 0, "\(checked.output)")
        // Addresses agree: cdnsd's IP and ports are what Step-CA and Traefik use.
        let address = try #require(((cdnsd["networks"] as? [String: Any])?["svc"] as? [String: Any])?["ipv4_address"] as? String)
        let dnsPort = try #require(cdnsdEnvironment["CDNS_DNS_LISTEN"]?.split(separator: ":").last.map(String.init))
        let apiPort = try #require(cdnsdEnvironment["CDNS_API_LISTEN"]?.split(separator: ":").last.map(String.init))
        let stepCA = (services["step-ca"]?["command"] as? [String] ?? []).joined(separator: " ")
        #expect(stepCA.contains("--resolver \(address):\(dnsPort)"), "\(stepCA)")
        let traefik = try #require(services["traefik"])
        let flags = Dictionary((traefik["command"] as? [String] ?? []).compactMap { flag -> (String, String)? in
            let parts = flag.split(separator: "=", maxSplits: 1).map(String.init)
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }, uniquingKeysWith: { $1 })
        let challenge = "--certificatesresolvers.stepca.acme.dnschallenge"
        #expect(flags["\(challenge).resolvers"] == "\(address):\(dnsPort)")
        #expect(flags["\(challenge).disablepropagationcheck"] == "true")
        let provider = try #require(flags["\(challenge).provider"])
        var legoEnvironment = try #require(traefik["environment"] as? [String: String])
        #expect(legoEnvironment["HTTPREQ_ENDPOINT"] == "http://\(address):\(apiPort)")
        let secrets = Set((compose["secrets"] as? [String: Any] ?? [:]).keys)
        for (name, value) in legoEnvironment where value.hasPrefix("/run/secrets/") {
            #expect(secrets.contains(String(value.dropFirst("/run/secrets/".count))), "\(name): no secret \(value)")
        }
        let labels = services["whoami"]?["labels"] as? [String] ?? []
        let domains = labels.compactMap { label -> [String]? in
            guard label.contains(".tls.domains[0]."), let value = label.split(separator: "=", maxSplits: 1).last else { return nil }
            return value.split(separator: ",").map(String.init)
        }.flatMap { $0 }
        #expect(Set(domains) == ["svc.dev", "*.svc.dev"])

        // The same cdnsd configuration served on loopback, the credential the
        // Compose file's comment makes, and lego with Traefik's provider and
        // variables; addresses moved to the test's ports, the secrets to files.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let dns = try TestDNSClient.freePort()
        let api = try TestDNSClient.freePort()
        let serveEnvironment = cdnsdEnvironment.merging(["CDNS_DNS_LISTEN": "127.0.0.1:\(dns)", "CDNS_API_LISTEN": "127.0.0.1:\(api)",
                                                         "CDNS_STORAGE_PATH": directory.url.appendingPathComponent("data/cdnsd.sqlite").path]) { $1 }
        let configuration = folder.appendingPathComponent(configMount[0]).path
        let server = try ManagedProcess(Programs.cdnsd, ["serve", "--config", configuration], environment: serveEnvironment, directory: directory)
        defer { server.stop() }
        try TestDNSClient.waitUntilServing(port: dns, zone: "svc.dev.", process: server)
        try Curl.waitFor("http://127.0.0.1:\(api)/health", process: server)
        let added = try ManagedProcess.run(Programs.cdnsd, ["credential", "add", legoEnvironment["HTTPREQ_USERNAME"] ?? "", "--allow", "*.svc.dev", "--config", configuration],
                                           environment: serveEnvironment)
        let secret = try #require(added.output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count), "\(added.output)")
        // The daemon takes the credential within a second: an empty request with it is then 400, not 401.
        let authorization = "Authorization: Basic " + Data("\(legoEnvironment["HTTPREQ_USERNAME"] ?? ""):\(secret)".utf8).base64EncodedString()
        let deadline = Date().addingTimeInterval(30)
        while (try? Curl.post("http://127.0.0.1:\(api)/present", json: "{}", headers: [authorization]).status) != 400 && Date() < deadline { usleep(100_000) }
        let pebble = try PebbleServer.start(in: directory, dnsPort: dns)
        defer { pebble.process.stop() }
        legoEnvironment["HTTPREQ_ENDPOINT"] = "http://127.0.0.1:\(api)"
        legoEnvironment["HTTPREQ_PASSWORD_FILE"] = try directory.file("httpreq_password", String(secret) + "\n")
        legoEnvironment["LEGO_CA_CERTIFICATES"] = pebble.httpsCA
        let lego = try Programs.require("lego")
        let run = try ManagedProcess.run(lego, [
            "--server", pebble.directoryURL, "--email", flags["--certificatesresolvers.stepca.acme.email"] ?? "", "--accept-tos",
            "--path", directory.url.appendingPathComponent("lego").path,
            "--dns", provider, "--dns.resolvers", "127.0.0.1:\(dns)", "--dns.disable-cp",
        ] + domains.flatMap { ["-d", $0] } + ["run"], environment: legoEnvironment, timeout: 180)
        #expect(run.status == 0, "\(run.output)\n\(server.output)")
        let chain = directory.url.appendingPathComponent("lego/certificates/svc.dev.crt").path
        let verified = try OpenSSL.verify(chain: chain, root: try pebble.issuingRoot(in: directory))
        #expect(verified.ok, "\(verified.output)")
        #expect(try OpenSSL.dnsNames(chain) == ["*.svc.dev", "svc.dev"])
    }

    /// The metric names a PromQL text uses (Prometheus's own `up` aside).
    static func metricNames(in text: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: #"\b(cdnsd_[a-z_]+|http_server_[a-z_]+|hb_[a-z_]+)\b"#)
        return Set(regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { Range($0.range(at: 1), in: text).map { String(text[$0]) } })
    }

    /// The label names a PromQL expression groups by or selects on, but for
    /// `le` and the ones Prometheus adds at scrape (`instance`, `job`).
    static func labelNames(in expression: String) -> Set<String> {
        var names: Set<String> = []
        for match in expression.matches(of: /\b(?:by|without) *\(([^)]*)\)/) {
            for name in match.output.1.split(separator: ",") { names.insert(name.trimmingCharacters(in: .whitespaces)) }
        }
        for match in expression.matches(of: /\{([^}]*)\}/) {
            for label in match.output.1.matches(of: /([a-zA-Z_][a-zA-Z0-9_]*) *(?:=~|!~|!=|=)/) { names.insert(String(label.output.1)) }
        }
        return names.subtracting(["le", "instance", "job", ""])
    }

    /// Which labels each series of a Prometheus text exposition carries, by metric name.
    static func exportedLabels(in text: String) -> [String: Set<String>] {
        var labels: [String: Set<String>] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") else { continue }
            let names = line[line.index(after: brace)..<close].matches(of: /([a-zA-Z_][a-zA-Z0-9_]*)="/).map { String($0.output.1) }
            labels[String(line[..<brace]), default: []].formUnion(names)
        }
        return labels
    }

    /// Labels `expression` uses that none of the metrics it names carries in `exported`.
    static func unknownLabels(in expression: String, exported: [String: Set<String>]) -> Set<String> {
        let carried = metricNames(in: expression).reduce(into: Set<String>()) { $0.formUnion(exported[$1] ?? []) }
        return labelNames(in: expression).subtracting(carried)
    }

    @Test("grafana/cdnsd.json and grafana/alerts.yml use only metrics and labels a running daemon exports; promtool accepts the rules",
          .enabled(if: Programs.runnable("pebble", "openssl", "curl", "dig", "nsupdate", "promtool", "python3")))
    func dashboardAndAlerts() async throws {
        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.examples.appendingPathComponent("grafana/cdnsd.json"))) as? [String: Any]
        let panels = try #require(dashboard?["panels"] as? [[String: Any]])
        let exprs = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        let rules = try #require(try Self.yaml("grafana/alerts.yml").first as? [String: Any])
        let alertExprs = ((rules["groups"] as? [[String: Any]]) ?? []).flatMap { ($0["rules"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        let used = Self.metricNames(in: (exprs + alertExprs).joined(separator: "\n"))
        #expect(used.isSuperset(of: ["cdnsd_dns_queries_total", "cdnsd_certificate_expiry_timestamp_seconds", "http_server_request_duration_bucket",
                                     "cdnsd_dns_update_duration_seconds_bucket",
                                     "cdnsd_challenge_writes_total", "cdnsd_api_auth_failures_total", "cdnsd_tsig_failures_total"]), "\(used.sorted())")
        let promtool = try Programs.require("promtool")
        let checked = try ManagedProcess.run(promtool, ["check", "rules", Self.examples.appendingPathComponent("grafana/alerts.yml").path])
        #expect(checked.status == 0, "\(checked.output)")

        // A daemon with its API certificate from pebble, and a little of every kind of traffic.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var (cdnsd, pebble) = try DaemonACMETests.setup(in: directory, acmeAPI: true)
        defer { pebble.process.stop() }
        try cdnsd.start(waitForAPI: false)
        defer { cdnsd.stop() }
        let root = try pebble.issuingRoot(in: directory)
        let api = "https://api.svc.test:\(cdnsd.apiPort)"
        let tls = ["--max-time", "5", "--cacert", root, "--resolve", "api.svc.test:\(cdnsd.apiPort):127.0.0.1"]
        try await waitUntil("the API answers over HTTPS", timeout: 60) { try Curl.request(tls + ["\(api)/health"], timeout: 6).status == 200 }
        let dig = try Programs.require("dig")
        for arguments in [["www.svc.test"], ["nope.svc.test"], ["example.com", "+tcp"]] {
            _ = try ManagedProcess.run(dig, ["@127.0.0.1", "-p", "\(cdnsd.dnsPort)"] + arguments)
        }
        let registered = try Curl.request(tls + ["-X", "POST", "\(api)/register"])
        let account = try #require(try JSONSerialization.jsonObject(with: Data(registered.body.utf8)) as? [String: Any], "\(registered)")
        let user = account["username"] as? String ?? "", key = account["password"] as? String ?? "", sub = account["subdomain"] as? String ?? ""
        _ = try Curl.request(tls + ["-H", "X-Api-User: \(user)", "-H", "X-Api-Key: \(key)", "-d", "{\"subdomain\":\"\(sub)\",\"txt\":\"\(String(repeating: "a", count: 43))\"}", "\(api)/update"])
        _ = try Curl.request(tls + ["-H", "X-Api-User: \(user)", "-H", "X-Api-Key: wrong", "-d", "{}", "\(api)/update"])
        _ = try Curl.request(tls + ["-u", "nobody:wrong", "-d", "{}", "\(api)/present"])
        let nsupdate = try Programs.require("nsupdate")
        let script = try directory.file("update.txt", "server 127.0.0.1 \(cdnsd.dnsPort)\nzone svc.test.\nupdate add _acme-challenge.a.svc.test. 60 TXT \"x\"\nsend\n")
        _ = try ManagedProcess.run(nsupdate, ["-y", "hmac-sha256:nokey:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MzI=", script])
        _ = try ManagedProcess.run(nsupdate, [script])
        let metrics = try Curl.request(tls + ["\(api)/metrics"])
        #expect(metrics.status == 200)
        var exported: Set<String> = []
        for line in metrics.body.split(separator: "\n") {
            let name = line.hasPrefix("# TYPE ") ? line.dropFirst("# TYPE ".count).split(separator: " ").first : line.hasPrefix("#") ? nil : line.split(whereSeparator: { $0 == "{" || $0 == " " }).first
            if let name { exported.insert(String(name)) }
        }
        for name in used.sorted() { #expect(exported.contains(name), "\(name) is used by Examples/grafana but not in /metrics") }
        let labels = Self.exportedLabels(in: metrics.body)
        for expression in exprs + alertExprs {
            let unknown = Self.unknownLabels(in: expression, exported: labels)
            #expect(unknown.isEmpty, "\(expression): labels \(unknown.sorted()) are on none of its metrics in /metrics")
        }
        // The negative case for labels: a misspelt one is caught.
        #expect(Self.unknownLabels(in: "sum by (rkode) (rate(cdnsd_dns_queries_total{transport=\"udp\"}[5m]))", exported: labels) == ["rkode"])
        // The negative case: a name no daemon exports is caught.
        #expect(!exported.contains("cdnsd_dns_latency_seconds_bucket"))
        #expect(Self.metricNames(in: "rate(cdnsd_dns_latency_seconds_bucket[5m])") == ["cdnsd_dns_latency_seconds_bucket"])
        let expiry = metrics.body.split(separator: "\n").first { $0.hasPrefix("cdnsd_certificate_expiry_timestamp_seconds{") }
        #expect(expiry?.contains("certificate=\"api.svc.test\"") == true && expiry?.contains("kind=\"api\"") == true, "\(expiry ?? "none")")
    }

    /// Starts `cdnsd serve` on an Examples/ configuration as written, with
    /// only what the file's comments say to set per host moved by variables.
    static func serve(_ file: String, _ environment: [String: String], in directory: TemporaryDirectory) throws -> ManagedProcess {
        try ManagedProcess(Programs.cdnsd, ["serve", "--config", examples.appendingPathComponent(file).path], environment: environment, directory: directory)
    }

    @Test("production/svc.dev.toml serves its API over HTTPS with a certificate from the ACME CA (pebble standing in for Step-CA)",
          .enabled(if: Programs.runnable("pebble", "openssl", "curl")))
    func productionServesACMETLS() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let dns = try TestDNSClient.freePort()
        let api = try TestDNSClient.freePort()
        let pebble = try PebbleServer.start(in: directory, dnsPort: dns)
        defer { pebble.process.stop() }
        // Addresses, the CA and the data move to the test's; notify goes nowhere (no secondary here).
        let server = try Self.serve("production/svc.dev.toml", [
            "CDNS_DNS_LISTEN": "127.0.0.1:\(dns)", "CDNS_API_LISTEN": "127.0.0.1:\(api)", "CDNS_ZONE_0_NOTIFY": "",
            "CDNS_ACME_DIRECTORY": pebble.directoryURL, "CDNS_ACME_CA_ROOTS": pebble.httpsCA,
            "CDNS_STORAGE_PATH": directory.url.appendingPathComponent("data/cdnsd.sqlite").path,
        ], in: directory)
        defer { server.stop() }
        try TestDNSClient.waitUntilServing(port: dns, zone: "svc.dev.", process: server)
        let root = try pebble.issuingRoot(in: directory)
        let health = ["--max-time", "2", "--cacert", root, "--resolve", "dns.svc.dev:\(api):127.0.0.1", "https://dns.svc.dev:\(api)/health"]
        try await waitUntil("the API answers over HTTPS", timeout: 60) { try Curl.request(health, timeout: 3).status == 200 }
        #expect(server.output.contains("API certificate in service"), "\(server.output)")
        // registration = false, as the file says.
        let register = try Curl.request(["--max-time", "2", "--cacert", root, "--resolve", "dns.svc.dev:\(api):127.0.0.1", "-X", "POST", "https://dns.svc.dev:\(api)/register"])
        #expect(register.status == 403)
    }

    @Test("production/postgres-replicas.toml: two replicas on one database; a value written through one is served by the other",
          .enabled(if: PostgresTestDatabase.serverURL != nil || Programs.required, "no PostgreSQL: Scripts/test.sh starts one"))
    func postgresReplicas() async throws {
        let url = try await PostgresTestDatabase.create()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var replicas: [(process: ManagedProcess, dns: UInt16, api: UInt16)] = []
        defer { for replica in replicas { replica.process.stop() } }
        for _ in 0..<2 {
            let dns = try TestDNSClient.freePort()
            let api = try TestDNSClient.freePort()
            // What the file's comment sets per replica: listen addresses and the URL.
            let process = try Self.serve("production/postgres-replicas.toml", [
                "CDNS_DNS_LISTEN": "127.0.0.1:\(dns)", "CDNS_API_LISTEN": "127.0.0.1:\(api)", "CDNS_STORAGE_URL": url,
            ], in: directory)
            replicas.append((process, dns, api))
            try TestDNSClient.waitUntilServing(port: dns, zone: "svc.dev.", process: process)
        }
        // registration = false: the account comes from the CLI, run against the same database.
        let added = try ManagedProcess.run(Programs.cdnsd, ["account", "add", "--for", "app.svc.dev", "--config",
                                                            Self.examples.appendingPathComponent("production/postgres-replicas.toml").path],
                                           environment: ["CDNS_STORAGE_URL": url])
        let output = added.output
        #expect(added.status == 0, "\(output)")
        let start = try #require(output.firstIndex(of: "{"), "\(output)")
        let end = try #require(output.lastIndex(of: "}"), "\(output)")
        let parsed = try JSONSerialization.jsonObject(with: Data(output[start...end].utf8)) as? [String: [String: Any]]
        let account = try #require(parsed?["app.svc.dev"], "\(output)")
        let user = account["username"] as? String ?? "", key = account["password"] as? String ?? "", sub = account["subdomain"] as? String ?? ""
        let value = String(repeating: "r", count: 43)
        try await waitUntil("replica A takes the account", timeout: 30) {
            try Curl.post("http://127.0.0.1:\(replicas[0].api)/update", json: "{\"subdomain\":\"\(sub)\",\"txt\":\"\(value)\"}",
                          headers: ["X-Api-User: \(user)", "X-Api-Key: \(key)"]).status == 200
        }
        // Through the CNAME the account add made, on the other replica.
        try await waitUntil("replica B serves the value", timeout: 30) {
            try TestDNSClient.txtValues("_acme-challenge.app.svc.dev.", port: replicas[1].dns).contains(value)
        }
    }
}
