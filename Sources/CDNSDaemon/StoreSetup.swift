import Foundation
import Logging
import ServiceLifecycle
import ZoneStore
import ZoneStorePostgres

/// Opens the store `[storage]` asks for, with the services it needs running.
struct StoreSetup {
    let store: ZoneRecordStore
    /// Long-running parts of the backend (PostgreSQL's change feed).
    let services: [any Service]
    /// Stops what `open` started outside the service group.
    let shutdown: @Sendable () async -> Void

    /// - Parameter watchExternalWrites: for the daemon: catch up when another
    ///   process (`cdnsd credential add`) writes to the SQLite file.
    /// - Parameter directoryOnly: open accounts, credentials and keys alone
    ///   (`ZoneRecordStore(directoryFrom:)`); the zones are not reconciled.
    static func open(_ configuration: CDNSConfiguration, logger: Logger, watchExternalWrites: Bool = true, directoryOnly: Bool = false) async throws -> StoreSetup {
        var services: [any Service] = []
        var shutdown: @Sendable () async -> Void = {}
        let backend: any StoreBackend
        var postgres: PostgresBackend? = nil
        var sqlite: SQLiteBackend? = nil
        switch configuration.storage.engine {
        case .memory:
            logger.warning("storage engine memory: records and accounts are lost when cdnsd stops")
            backend = MemoryBackend(retention: configuration.storage.retention)
        case .sqlite:
            let path = configuration.storage.path
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // Password and secret hashes live here: owner-only from the start
            // (SQLite gives its -wal and -shm files the same mode).
            if !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            let file = try SQLiteBackend(path: path, retention: configuration.storage.retention)
            sqlite = file
            backend = file
            logger.info("storage: SQLite", metadata: ["path": "\(path)"])
        case .postgres:
            guard !configuration.storage.url.isEmpty else {
                throw ConfigurationError(source: configuration.source, key: "storage.url", value: "\"\"",
                                         reason: "engine postgres needs url = \"postgres://user:password@host:port/database\"")
            }
            let client = try PostgresBackend(url: configuration.storage.url, retention: configuration.storage.retention, logger: Logger(label: "cdnsd.postgres"))
            // The pool must run before the store loads; it stops after the service group.
            let pool = Task { await client.run() }
            shutdown = { pool.cancel() }
            postgres = client
            backend = client
            logger.info("storage: PostgreSQL", metadata: ["replica": "\(client.replicaID)"])
        }
        let challenge = ChallengeSettings(
            ttl: configuration.challenge.ttl, negativeTTL: configuration.challenge.negativeTTL, keepWildcards: configuration.challenge.keepWildcards,
            maxValuesPerName: configuration.challenge.maxValuesPerName)
        let opening = ContinuousClock.now
        let store = directoryOnly ? try await ZoneRecordStore(directoryFrom: backend, challenge: challenge)
            : try await ZoneRecordStore(zones: configuration.zones, backend: backend, challenge: challenge)
        let view = store.view()
        logger.info("store open", metadata: [
            "zones": "\(view.zones.count)", "records": "\(view.recordCount)", "challenges": "\(view.challenges.count)",
            "accounts": "\(view.accounts.count)", "took": "\(Int(opening.duration(to: .now) / .milliseconds(1))) ms",
        ])
        // Loading and reconciling leave much freed heap behind (parsed rows,
        // the change set of a first start): give it back to the system.
        MemoryTuning.returnFreedMemory()
        if let postgres { services.append(PostgresChangeFeed(backend: postgres, store: store, logger: Logger(label: "cdnsd.postgres"))) }
        if let sqlite, watchExternalWrites { services.append(SQLiteChangeFeed(backend: sqlite, store: store, logger: Logger(label: "cdnsd.sqlite"))) }
        let orphans = await store.orphanedRecords
        if orphans > 0 {
            logger.warning("stored records outside every configured zone are kept but not served", metadata: ["count": "\(orphans)"])
        }
        return StoreSetup(store: store, services: services, shutdown: shutdown)
    }
}

/// Catches the store up whenever another replica commits to the shared
/// PostgreSQL database, and after every reconnect (notifications may have
/// been missed meanwhile).
struct PostgresChangeFeed: Service {
    let backend: PostgresBackend
    let store: ZoneRecordStore
    let logger: Logger

    func run() async throws {
        let store = store
        let logger = logger
        await cancelWhenGracefulShutdown {
            await backend.followChanges {
                do {
                    try await store.catchUp()
                } catch {
                    logger.error("catching up from PostgreSQL failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// Catches the store up when another process commits to the SQLite file
/// (`cdnsd credential add` while the daemon runs): SQLite's `data_version`
/// moves when another connection commits.
struct SQLiteChangeFeed: Service {
    let backend: SQLiteBackend
    let store: ZoneRecordStore
    let logger: Logger
    var interval: Duration = .milliseconds(250)

    func run() async throws {
        var version = try? await backend.dataVersion()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            guard let now = try? await backend.dataVersion(), now != version else { continue }
            version = now
            do {
                let applied = try await store.catchUp()
                if applied > 0 {
                    logger.info("applied changes another process committed", metadata: ["path": "\(backend.path)", "changes": "\(applied)"])
                }
            } catch {
                logger.error("catching up from SQLite failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
