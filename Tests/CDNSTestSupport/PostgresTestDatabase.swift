import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Fresh databases on the PostgreSQL server `Scripts/test.sh` started
/// (`CDNS_TEST_POSTGRES_URL`), one per test.
public enum PostgresTestDatabase {
    public static var serverURL: String? { ProcessInfo.processInfo.environment["CDNS_TEST_POSTGRES_URL"] }

    /// Creates a database and returns its URL.
    public static func create() async throws -> String {
        guard let server = serverURL, var components = URLComponents(string: server), let host = components.host else {
            throw PostgresTestError("CDNS_TEST_POSTGRES_URL is not set: run Scripts/test.sh, which starts PostgreSQL")
        }
        let name = "cdnsd_\(UUID().uuidString.prefix(8).lowercased())"
        let client = PostgresClient(configuration: .init(host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
                                                          password: components.password, database: "postgres", tls: .disable))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            group.cancelAll()
        }
        components.path = "/\(name)"
        return components.string ?? server
    }
}

public struct PostgresTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Background tasks a fixture started, cancelled when it is removed.
public final class TaskBox: Sendable {
    private let tasks = Mutex<[Task<Void, Never>]>([])
    public init() {}
    public func add(_ task: Task<Void, Never>) { tasks.withLock { $0.append(task) } }
    public func cancelAll() { tasks.withLock { $0.forEach { $0.cancel() } } }
}
