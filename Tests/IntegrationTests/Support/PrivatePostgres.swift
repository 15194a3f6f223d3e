import Foundation

/// A PostgreSQL cluster of the test's own (Debian's `postgresql`), so that
/// it can be restarted without disturbing other tests: initdb and pg_ctl
/// run as the `postgres` user, on a loopback high port, stopped at the end.
struct PrivatePostgres {
    let directory: String
    let port: UInt16
    let bin: String

    var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    static var binDirectory: String? {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted { $0.compare($1, options: .numeric) == .orderedAscending }
        guard let newest = versions.last else { return nil }
        let bin = "\(base)/\(newest)/bin"
        return FileManager.default.isExecutableFile(atPath: "\(bin)/pg_ctl") ? bin : nil
    }

    /// Whether a private cluster can be made here: PostgreSQL installed and running as root (for su).
    static var available: Bool { binDirectory != nil && getuid() == 0 }

    static func start() throws -> PrivatePostgres {
        guard let bin = binDirectory, getuid() == 0 else { throw TestSetupError("a private PostgreSQL needs Debian's postgresql and root (for su postgres)") }
        let directory = "/tmp/cdnsd-pg-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: directory)
        let cluster = PrivatePostgres(directory: directory, port: try TestDNSClient.freePort(), bin: bin)
        try cluster.asPostgres("\(bin)/initdb -D \(directory)/data -A trust -U postgres")
        try cluster.pgctl("start")
        return cluster
    }

    func restart() throws { try pgctl("-m fast restart") }

    func stop() {
        _ = try? pgctl("-m immediate stop")
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs one SQL statement with psql and returns its unaligned output.
    func sql(_ statement: String) throws -> String {
        let output = "\(directory)/psql-\(UUID().uuidString.prefix(8)).out"
        try asPostgres("\(bin)/psql -h 127.0.0.1 -p \(port) -U postgres -d postgres -tA -o \(output) -c \"\(statement)\"")
        return try String(contentsOfFile: output, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func pgctl(_ action: String) throws {
        try asPostgres("\(bin)/pg_ctl -D \(directory)/data -l \(directory)/postgres.log -w -o '-p \(port) -k \(directory) -c listen_addresses=127.0.0.1' \(action)")
    }

    /// Runs `command` as postgres through system(3): Foundation's Process
    /// keeps waiting while the postmaster that pg_ctl leaves behind runs.
    private func asPostgres(_ command: String) throws {
        let escaped = command.replacingOccurrences(of: "\"", with: "\\\"")
        let status = system("su postgres -s /bin/sh -c \"\(escaped)\" >>\(directory)/commands.log 2>&1 </dev/null")
        guard status == 0 else {
            let log = (try? String(contentsOfFile: "\(directory)/commands.log", encoding: .utf8)) ?? ""
            throw TestSetupError("\(command) failed (\(status)): \(log)")
        }
    }
}
