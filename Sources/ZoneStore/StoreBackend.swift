import DNSWire

/// Where a `ZoneRecordStore` keeps its data durably. The store validates a
/// change, hands it to the backend, and applies and publishes it only once
/// `apply` has returned: what the store acknowledges survives a crash.
public protocol StoreBackend: Sendable {
    /// Reads everything kept, creating or migrating the storage first.
    func load() async throws(ZoneStoreError) -> StoredState

    /// Makes `changes` and the zone serials they raised durable, all of
    /// them or none (one transaction: the store group-commits).
    func apply(_ changes: [StoreChange], serials: [DNSName: UInt32]) async throws(ZoneStoreError)

    /// Throws when the storage cannot be reached; for health checks.
    func checkHealth() async throws(ZoneStoreError)
}

extension StoreBackend {
    public func checkHealth() async throws(ZoneStoreError) {}
}

/// Keeps nothing: for tests and embedding, where data may die with the process.
public struct MemoryBackend: StoreBackend {
    public init() {}
    public func load() async throws(ZoneStoreError) -> StoredState { StoredState() }
    public func apply(_ changes: [StoreChange], serials: [DNSName: UInt32]) async throws(ZoneStoreError) {}
}
