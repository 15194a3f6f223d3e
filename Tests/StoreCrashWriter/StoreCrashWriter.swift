import DNSWire
import Foundation
import Logging
import ZoneStore
import ZoneStorePostgres

/// Writes challenge records through `ZoneRecordStore`'s public API from
/// several concurrent tasks until it is killed, printing `ack NAME VALUE`
/// only after each write returned. The crash test kills it with SIGKILL and
/// checks that every acknowledged write is in the database.
///
///     StoreCrashWriter sqlite PATH ROUND [WRITERS]
///     StoreCrashWriter postgres URL ROUND [WRITERS]
@main
enum StoreCrashWriter {
    /// One unbuffered write(2) per line: a line is out before the next write starts.
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 4, ["sqlite", "postgres"].contains(arguments[1]) else {
            FileHandle.standardError.write(Data("usage: StoreCrashWriter sqlite|postgres PATH|URL ROUND [WRITERS]\n".utf8))
            exit(64)
        }
        let round = arguments[3]
        let writers = arguments.count > 4 ? Int(arguments[4]) ?? 4 : 4
        let zone = ZoneConfiguration(origin: "svc.test.", nameservers: ["ns1.svc.test."], admin: "admin.svc.test.")
        let backend: any StoreBackend
        if arguments[1] == "postgres" {
            let postgres = try PostgresBackend(url: arguments[2], logger: Logger(label: "crash-writer"))
            Task { await postgres.run() }
            backend = postgres
        } else {
            backend = try SQLiteBackend(path: arguments[2])
        }
        let store = try await ZoneRecordStore(zones: [zone], backend: backend)
        emit("ready")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var sequence = 0
                    while true {
                        sequence += 1
                        let label = "r\(round)-w\(writer)-\(sequence)"
                        let name = try DNSName("_acme-challenge.\(label).svc.test.")
                        try await store.addChallenge(ChallengeRecord(name: name, value: "v-\(label)", owner: "crash", createdAt: 0, expiresAt: .max))
                        emit("ack \(name) v-\(label)")
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
