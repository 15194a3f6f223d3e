import DNSWire
import Foundation

/// A TSIG key as the secondaries' configurations take it.
struct SecondaryKey {
    var name: String
    var algorithm = "hmac-sha256"
    var secret: String
}

/// knotd as a secondary of a primary on 127.0.0.1: AXFR on start, then
/// NOTIFY and IXFR, its log (at info) saying which transfer it used.
struct KnotSecondary {
    let process: ManagedProcess
    let port: UInt16

    /// - Parameter listen: the address it listens on (port `port`).
    static func start(zone: String, port: UInt16, primaryPort: UInt16, key: SecondaryKey?, listen: String = "127.0.0.1", in directory: TemporaryDirectory) throws -> KnotSecondary {
        let knotd = try Programs.require("knotd")
        let root = directory.url.appendingPathComponent("knot-secondary").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let keyLine = key.map { "    key: \($0.name)" } ?? ""
        let keys = key.map { "key:\n  - id: \($0.name)\n    algorithm: \($0.algorithm)\n    secret: \($0.secret)\n" } ?? ""
        let configuration = try directory.file("knot-secondary.conf", """
            server:
                listen: \(listen)@\(port)
                rundir: \(root)
            database:
                storage: \(root)/db
            \(keys)
            remote:
              - id: primary
                address: 127.0.0.1@\(primaryPort)
            \(keyLine)
            acl:
              - id: notify_from_primary
                address: 127.0.0.0/8
                action: notify
            \(keyLine)
              - id: transfer_to_tests
                address: 127.0.0.1
                action: transfer
            template:
              - id: default
                storage: \(root)
                semantic-checks: off
            zone:
              - domain: \(zone)
                master: primary
                acl: [notify_from_primary, transfer_to_tests]
                zonefile-sync: -1
                zonefile-load: none
                journal-content: none
            log:
              - target: stderr
                any: info
            """)
        let process = try ManagedProcess(knotd, ["-c", configuration], directory: directory)
        return KnotSecondary(process: process, port: port)
    }
}

/// nsd as a secondary of a primary on 127.0.0.1 (IXFR with AXFR fallback,
/// NOTIFY allowed from the primary), in the foreground, not dropping privileges.
struct NSDSecondary {
    let process: ManagedProcess
    let port: UInt16

    static func start(zone: String, port: UInt16, primaryPort: UInt16, key: SecondaryKey?, in directory: TemporaryDirectory) throws -> NSDSecondary {
        let nsd = try Programs.require("nsd")
        let root = directory.url.appendingPathComponent("nsd-secondary").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let keyName = key?.name ?? "NOKEY"
        let keys = key.map { "key:\n    name: \"\($0.name)\"\n    algorithm: \($0.algorithm)\n    secret: \"\($0.secret)\"\n" } ?? ""
        let configuration = try directory.file("nsd-secondary.conf", """
            server:
                ip-address: 127.0.0.1@\(port)
                zonesdir: "\(root)"
                database: ""
                zonelistfile: "\(root)/zone.list"
                xfrdfile: "\(root)/xfrd.state"
                xfrdir: "\(root)"
                pidfile: "\(root)/nsd.pid"
                username: ""
                chroot: ""
                verbosity: 2
                rrl-ratelimit: 0
                xfrd-reload-timeout: 0
                hide-version: yes
            remote-control:
                control-enable: no
            \(keys)
            zone:
                name: "\(zone)"
                zonefile: "\(zone).zone"
                request-xfr: 127.0.0.1@\(primaryPort) \(keyName)
                allow-notify: 127.0.0.1 \(keyName)
                provide-xfr: 127.0.0.1 NOKEY
            """)
        let process = try ManagedProcess(nsd, ["-d", "-c", configuration], directory: directory)
        return NSDSecondary(process: process, port: port)
    }
}

extension TestDNSClient {
    /// The SOA serial `port` serves for `zone`, nil when it does not answer one.
    static func serial(_ zone: DNSName, port: UInt16, timeout: Double = 0.5) -> UInt32? {
        guard let query = try? DNSMessage(header: DNSHeader(id: 9), questions: [Question(name: zone, type: .soa)]).encode(),
              let bytes = try? udp(query, port: port, timeout: timeout), let reply = try? DNSMessage(decoding: bytes),
              reply.header.rcode == .noError, let first = reply.answers.first, case .soa(let soa) = first.data else { return nil }
        return soa.serial
    }
}

/// BIND 9 `named` as a secondary of a primary on 127.0.0.1 (IXFR, NOTIFY
/// allowed from the primary), in the foreground, as the configuration in
/// Docs/secondaries.md writes it.
struct BINDSecondary {
    let process: ManagedProcess
    let port: UInt16

    static func start(zone: String, port: UInt16, primaryPort: UInt16, key: SecondaryKey, in directory: TemporaryDirectory) throws -> BINDSecondary {
        let named = try Programs.require("named")
        let root = directory.url.appendingPathComponent("bind-secondary").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let configuration = try directory.file("named.conf", """
            options {
                directory "\(root)";
                pid-file "\(root)/named.pid";
                listen-on port \(port) { 127.0.0.1; };
                listen-on-v6 { none; };
                recursion no;
                notify no;
                dnssec-validation no;
            };
            controls { };
            key "\(key.name)" { algorithm \(key.algorithm); secret "\(key.secret)"; };
            zone "\(zone)" {
                type secondary;
                primaries { 127.0.0.1 port \(primaryPort) key "\(key.name)"; };
                file "\(root)/\(zone).db";
                allow-notify { 127.0.0.1; };
            };
            """)
        let process = try ManagedProcess(named, ["-g", "-c", configuration, "-n", "1"], directory: directory)
        return BINDSecondary(process: process, port: port)
    }
}
