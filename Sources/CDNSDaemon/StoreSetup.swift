import Foundation
import Logging
import ZoneStore

/// Opens the store `[storage]` asks for.
enum StoreSetup {
    static func open(_ configuration: CDNSConfiguration, logger: Logger) async throws -> ZoneRecordStore {
        let backend: any StoreBackend
        switch configuration.storage.engine {
        case "memory":
            logger.warning("storage engine memory: records and accounts are lost when cdnsd stops")
            backend = MemoryBackend()
        case "sqlite":
            let path = configuration.storage.path
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // Password and secret hashes live here: owner-only from the start
            // (SQLite gives its -wal and -shm files the same mode).
            if !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            backend = try SQLiteBackend(path: path)
            logger.info("storage: SQLite", metadata: ["path": "\(path)"])
        default:
            throw ConfigurationError(source: configuration.source, key: "storage.engine", value: "\"\(configuration.storage.engine)\"",
                                     reason: "the PostgreSQL backend is not built yet; use sqlite or memory")
        }
        let store = try await ZoneRecordStore(zones: configuration.zones, backend: backend, challengeTTL: configuration.challenge.ttl)
        let orphans = await store.orphanedRecords
        if orphans > 0 {
            logger.warning("stored records outside every configured zone are kept but not served", metadata: ["count": "\(orphans)"])
        }
        return store
    }
}
