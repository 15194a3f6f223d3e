import DNSWire
import Foundation

/// cdnsd with SQLite storage and the challenge API on fixed free ports, so
/// that it can be stopped and started again on the same data.
struct ChallengeDaemon {
    let directory: TemporaryDirectory
    let dnsPort: UInt16
    let apiPort: UInt16
    let database: String
    var process: ManagedProcess?
    /// Set for `tls = "file"`: the served pair and the CA that signed it.
    var tls: (certificate: String, key: String, ca: String)?
    /// More `[api]` lines, and whole sections appended to the configuration.
    var apiLines: [String] = []
    var sections = ""
    /// Variables set for the daemon and for `command`.
    var environment: [String: String] = [:]
    /// More lines in the `svc.test` zone table (`transfer = …`, `notify = …`).
    var svcZoneLines: [String] = []
    /// The `svc.test` zone's name servers (the first is the SOA mname).
    var svcNameservers = ["ns.svc.test"]
    /// `[api] account_domain`.
    var accountDomain = "svc.test"

    var apiURL: String { "\(tls == nil ? "http" : "https")://127.0.0.1:\(apiPort)" }

    init(in directory: TemporaryDirectory) throws {
        self.directory = directory
        dnsPort = try TestDNSClient.freePort()
        apiPort = try TestDNSClient.freePort()
        database = directory.url.appendingPathComponent("data/cdnsd.sqlite").path
    }

    /// The configuration: `svc.test` (acme-dns accounts live here) and
    /// `other.test`, each with `extra` records added.
    func toml(svc extraSVC: [String] = [], other extraOther: [String] = []) -> String {
        func list(_ lines: [String]) -> String { lines.map { "  \"\($0)\"," }.joined(separator: "\n") }
        return """
            [dns]
            listen = ["127.0.0.1:\(dnsPort)"]

            [[zone]]
            name = "svc.test"
            nameservers = [\(svcNameservers.map { "\"\($0)\"" }.joined(separator: ", "))]
            admin = "admin.svc.test"
            \(svcZoneLines.joined(separator: "\n"))
            records = [
              "ns.svc.test. A 127.0.0.1",
              "*.svc.test. A 10.8.10.252",
            \(list(extraSVC))
            ]

            [[zone]]
            name = "other.test"
            nameservers = ["ns.svc.test"]
            records = [
              "www.other.test. A 10.8.10.7",
            \(list(extraOther))
            ]

            [api]
            listen = "127.0.0.1:\(apiPort)"
            account_domain = "\(accountDomain)"
            \(tls.map { "tls = \"file\"\ncert_file = \"\($0.certificate)\"\nkey_file = \"\($0.key)\"" } ?? "")
            \(apiLines.joined(separator: "\n"))

            [storage]
            engine = "sqlite"
            path = "\(database)"

            [log]
            level = "info"

            \(sections)
            """
    }

    var configurationPath: String { directory.url.appendingPathComponent("cdnsd.toml").path }

    /// Writes the configuration and starts cdnsd; returns once DNS and the API answer.
    /// - Parameter waitForAPI: false when the API comes up later (tls = "acme").
    mutating func start(svc: [String] = [], other: [String] = [], waitForAPI: Bool = true) throws {
        _ = try directory.file("cdnsd.toml", toml(svc: svc, other: other))
        let process = try ManagedProcess(Programs.cdnsd, ["serve", "--config", configurationPath], environment: environment, directory: directory)
        self.process = process
        try TestDNSClient.waitUntilServing(port: dnsPort, zone: "svc.test.", process: process)
        if waitForAPI { try Curl.waitFor("\(apiURL)/health", process: process, caFile: tls?.ca) }
    }

    mutating func stop() {
        process?.stop()
        process = nil
    }

    /// Runs a `cdnsd` command against this daemon's configuration.
    func command(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try ManagedProcess.run(Programs.cdnsd, arguments + ["--config", configurationPath], environment: environment)
    }

    /// The TXT strings served at `name` over UDP.
    func txt(_ name: String) throws -> [String] {
        try TestDNSClient.txtValues(try DNSName(name), port: dnsPort)
    }

    /// The TXT values `dig +short` prints for `name` (each record's
    /// strings joined), asked over UDP.
    func digTXT(_ name: String) throws -> [String] {
        let result = try ManagedProcess.run(try Programs.require("dig"), ["@127.0.0.1", "-p", "\(dnsPort)", "+short", "+norec", name, "TXT"])
        guard result.status == 0 else { throw TestSetupError("dig \(name) TXT: \(result.output)") }
        return result.output.split(separator: "\n").map { line in
            line.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map(\.element).joined()
        }
    }
}
