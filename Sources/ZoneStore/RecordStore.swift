import DNSWire

/// Receives every snapshot a store publishes. `apply` returns once the
/// snapshot is being served, so a store can acknowledge a write only after
/// it is visible on the wire.
public protocol SnapshotSubscriber: Sendable {
    func apply(_ snapshot: ZoneSnapshot) async
}

/// Where zones and their records live. Every committed change produces a new
/// `ZoneSnapshot`, raises the changed zone's SOA serial, and reaches every
/// subscriber before the change call returns.
public protocol RecordStore: Sendable {
    /// The snapshot being served now.
    func snapshot() async -> ZoneSnapshot

    /// Adds `subscriber`, which first receives the current snapshot.
    func subscribe(_ subscriber: any SnapshotSubscriber) async

    /// Adds records (idempotent for identical data); all must fall in served zones.
    func add(_ records: [ResourceRecord]) async throws(ZoneStoreError)

    /// Removes records equal to these (name, type and data); missing ones are ignored.
    func remove(_ records: [ResourceRecord]) async throws(ZoneStoreError)

    /// Replaces the RRset at `name` and `type` (empty `records` deletes it).
    func replaceRRset(name: DNSName, type: RRType, with records: [ResourceRecord]) async throws(ZoneStoreError)
}
