import CDNSTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import PostgresNIO
import Testing
@testable import ZoneStorePostgres
import ZoneStore

/// `sslmode` and `sslrootcert` against a PostgreSQL cluster of its own
/// with TLS on: a CA and a server certificate (SAN 127.0.0.1 and
/// localhost) made here with openssl, a second CA the server does not use.
@Suite("PostgreSQL over TLS", .blocking, .serialized)
struct PostgresTLSTests {
    static let binaries = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last.map { "/usr/lib/postgresql/\($0)/bin" }

    /// A TLS-enabled cluster on a loopback high port, stopped by `stop()`.
    final class Cluster: Sendable {
        let directory: String
        let port: Int
        let bin: String

        init(bin: String) throws {
            self.bin = bin
            directory = NSTemporaryDirectory() + "cdnsd-pg-tls-\(UUID().uuidString.prefix(8))"
            port = Int(try LoopbackPort.free())
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let d = directory
            try Self.sh("""
                cd \(d) && \
                openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=cdnsd-test-ca 2>/dev/null && \
                openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.pem -days 2 -subj /CN=other-ca 2>/dev/null && \
                openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null && \
                printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && \
                openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null && \
                chmod 600 server.key && chown -R postgres \(d) && \
                su postgres -s /bin/sh -c '\(bin)/initdb -D \(d)/data -A trust -U postgres >\(d)/initdb.log 2>&1' && \
                su postgres -s /bin/sh -c "\(bin)/pg_ctl -D \(d)/data -l \(d)/log -w -o '-p \(port) -k \(d) -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=\(d)/server.pem -c ssl_key_file=\(d)/server.key' start >/dev/null"
                """)
        }

        func stop() {
            try? Self.sh("su postgres -s /bin/sh -c '\(bin)/pg_ctl -D \(directory)/data -m immediate -w stop >/dev/null 2>&1'; rm -rf \(directory)")
        }

        /// Runs `script` with /bin/sh and waits for it (posix_spawn and waitpid:
        /// Foundation's Process did not see pg_ctl's shell exit here).
        static func sh(_ script: String) throws {
            var pid: pid_t = 0
            let arguments = ["/bin/sh", "-c", script]
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            guard posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ) == 0 else { throw PostgresTestError("cannot run /bin/sh") }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            guard status == 0 else { throw PostgresTestError("shell step failed (status \(status)): \(script.prefix(300))") }
        }

        func url(host: String = "127.0.0.1", _ query: String) -> String {
            "postgres://postgres@\(host):\(port)/postgres?\(query)"
        }
    }

    /// Whether a backend for `url` connects, and whether its session uses TLS.
    static func connect(_ url: String) async throws -> Bool {
        let backend = try PostgresBackend(url: url, operationTimeout: .seconds(5), logger: Logger(label: "test.pg-tls"))
        return try await withThrowingTaskGroup(of: Bool?.self) { group in
            group.addTask { await backend.run(); return nil }
            defer { group.cancelAll() }
            var ssl = false
            for try await value in try await backend.client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: Logger(label: "test.pg-tls")).decode(Bool.self) {
                ssl = value
            }
            return ssl
        }
    }

    @Test("sslmode disable, prefer, require, verify-ca and verify-full against a TLS cluster")
    func modes() async throws {
        guard let bin = Self.binaries, FileManager.default.isExecutableFile(atPath: "\(bin)/initdb") else {
            if ProcessInfo.processInfo.environment["CDNS_REQUIRE_INTEGRATION"] == "1" { Issue.record("PostgreSQL is not installed") }
            print("skipped: PostgreSQL is not installed")
            return
        }
        let cluster = try Cluster(bin: bin)
        defer { cluster.stop() }
        let ca = "\(cluster.directory)/ca.pem"
        let other = "\(cluster.directory)/other-ca.pem"
        #expect(try await Self.connect(cluster.url("sslmode=disable")) == false, "disable stays plain")
        #expect(try await Self.connect(cluster.url("")) == true, "prefer (the default) uses TLS when offered")
        #expect(try await Self.connect(cluster.url("sslmode=require")) == true)
        #expect(try await Self.connect(cluster.url("sslmode=verify-ca&sslrootcert=\(ca)")) == true)
        #expect(try await Self.connect(cluster.url("sslmode=verify-full&sslrootcert=\(ca)")) == true, "IP SAN 127.0.0.1")
        #expect(try await Self.connect(cluster.url(host: "localhost", "sslmode=verify-full&sslrootcert=\(ca)")) == true, "DNS SAN localhost")
        await #expect(throws: (any Error).self, "a CA that did not sign the server's certificate") {
            try await Self.connect(cluster.url("sslmode=verify-ca&sslrootcert=\(other)"))
        }
        await #expect(throws: (any Error).self, "require with a root checks the chain, as libpq does") {
            try await Self.connect(cluster.url("sslmode=require&sslrootcert=\(other)"))
        }
        // The whole store over verify-full: migrations, a write, a reload.
        let url = cluster.url("sslmode=verify-full&sslrootcert=\(ca)")
        let backend = try PostgresBackend(url: url, logger: Logger(label: "test.pg-tls"))
        let pool = Task { await backend.run() }
        defer { pool.cancel() }
        let zone = ZoneConfiguration(origin: "svc.test.", nameservers: ["ns.svc.test."], admin: "admin.svc.test.")
        let store = try await ZoneRecordStore(zones: [zone], backend: backend)
        try await store.addChallenge(ChallengeRecord(name: "_acme-challenge.a.svc.test.", value: String(repeating: "t", count: 43), owner: "t",
                                                     createdAt: 1, expiresAt: Int64(Date().timeIntervalSince1970) + 600))
        try await store.reload()
        #expect(store.challenges().count == 1)
    }

    @Test("bad sslmode and unknown URL parameters are refused, naming them")
    func badParameters() {
        #expect(throws: ZoneStoreError.self) { try PostgresBackend.clientConfiguration(url: "postgres://u@127.0.0.1/db?sslmode=always") }
        #expect(throws: ZoneStoreError.self) { try PostgresBackend.clientConfiguration(url: "postgres://u@127.0.0.1/db?sslcert=x") }
        #expect(throws: ZoneStoreError.self) { try PostgresBackend.clientConfiguration(url: "postgres://u@127.0.0.1/db?sslmode=verify-ca&sslrootcert=/nonexistent") }
        #expect((try? PostgresBackend.clientConfiguration(url: "postgres://u@db.example/db?sslmode=verify-full"))?.options.tlsServerName == "db.example")
    }
}
