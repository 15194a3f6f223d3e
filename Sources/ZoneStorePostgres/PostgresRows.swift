import Foundation
import Logging
import PostgresNIO
import ZoneStore

/// Reads rows of another program's PostgreSQL database as text (for
/// `cdnsd import acme-dns --db postgres://…`): one short-lived connection,
/// every column cast to text by the query itself.
public enum PostgresRows {
    public static func read(url: String, queries: [String], logger: Logger) async throws(ZoneStoreError) -> [[[String?]]] {
        let configuration = try PostgresBackend.clientConfiguration(url: url)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let pool = Task { await client.run() }
        defer { pool.cancel() }
        do {
            return try await client.withConnection { connection in
                var results: [[[String?]]] = []
                for sql in queries {
                    var rows: [[String?]] = []
                    for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) {
                        rows.append(try row.map { cell in try cell.decode(String?.self) })
                    }
                    results.append(rows)
                }
                return results
            }
        } catch {
            throw ZoneStoreError(.storage, "PostgreSQL \(configuration.host ?? url): \(String(reflecting: error))")
        }
    }
}
