import DNSWire

/// The `RecordStore`: zones from the configuration plus dynamic records,
/// challenge TXT values, acme-dns accounts and API credentials, kept durably
/// by a `StoreBackend` and served as `ZoneSnapshot`s.
///
/// Every change is validated against the zone (CNAME conflicts, zone
/// membership), made durable by the backend, then published to every
/// subscriber with the zone's SOA serial raised, and only then returns.
public actor ZoneRecordStore: RecordStore {
    private let configurations: [DNSName: ZoneConfiguration]
    /// Each zone's configured records other than the SOA, by owner name.
    private let staticRecords: [DNSName: [DNSName: [ResourceRecord]]]
    private let backend: any StoreBackend
    /// TTL of the TXT records served for challenges.
    public nonisolated let challengeTTL: UInt32
    private var state: StoredState
    private var current: ZoneSnapshot
    private var subscribers: [any SnapshotSubscriber] = []
    /// Writers waiting for `writeLock`, resumed in arrival order.
    private var writeQueue: [CheckedContinuation<Void, Never>] = []
    private var writing = false
    /// Moves whenever accounts or credentials may have changed, so that
    /// caches of verified secrets know to start again.
    public private(set) var credentialsGeneration: UInt64 = 0
    /// Stored records that fall in no configured zone (a zone was removed
    /// from the configuration); kept in storage, not served.
    public private(set) var orphanedRecords = 0

    public init(zones: [ZoneConfiguration], backend: any StoreBackend = MemoryBackend(), challengeTTL: UInt32 = 60) async throws(ZoneStoreError) {
        var configurations: [DNSName: ZoneConfiguration] = [:]
        for zone in zones {
            guard configurations[zone.origin] == nil else {
                throw ZoneStoreError(.duplicateZone, name: zone.origin, "zone \(zone.origin) is defined twice")
            }
            configurations[zone.origin] = zone
        }
        self.configurations = configurations
        var staticRecords: [DNSName: [DNSName: [ResourceRecord]]] = [:]
        for (origin, zone) in configurations {
            staticRecords[origin] = Dictionary(grouping: try zone.validatedRecords().filter { $0.type != .soa }, by: \.name)
        }
        self.staticRecords = staticRecords
        self.backend = backend
        self.challengeTTL = challengeTTL
        var loaded = try await backend.load()
        for (origin, zone) in configurations {
            // Serials only grow, across restarts too.
            let stored = loaded.serials[origin].map { $0 &+ 1 } ?? 0
            loaded.serials[origin] = max(zone.serial, stored)
        }
        var indexes: [ZoneIndex] = []
        for origin in configurations.keys {
            indexes.append(try Self.index(origin, configurations: configurations, state: loaded, challengeTTL: challengeTTL))
        }
        self.state = loaded
        self.current = try ZoneSnapshot(zones: indexes)
        self.orphanedRecords = loaded.records.filter { current.zone(containing: $0.name) == nil }.count
            + loaded.challenges.filter { current.zone(containing: $0.name) == nil }.count
    }

    /// Reads everything from the backend again and republishes: how a
    /// replica picks up what another replica wrote (PostgreSQL NOTIFY), or
    /// resynchronises after losing its connection. Serials never go back.
    public func reload() async throws(ZoneStoreError) {
        await lockWrites()
        defer { unlockWrites() }
        var loaded = try await backend.load()
        for (origin, zone) in configurations {
            loaded.serials[origin] = max(loaded.serials[origin] ?? zone.serial, state.serials[origin] ?? zone.serial)
        }
        var snapshot = current
        for origin in configurations.keys {
            snapshot = snapshot.replacing(try Self.index(origin, configurations: configurations, state: loaded, challengeTTL: challengeTTL))
        }
        state = loaded
        credentialsGeneration &+= 1
        current = snapshot
        for subscriber in subscribers { await subscriber.apply(snapshot) }
    }

    /// Asks the backend whether it can read and write; for health checks.
    public func checkHealth() async throws(ZoneStoreError) {
        try await backend.checkHealth()
    }

    // MARK: RecordStore

    public func snapshot() -> ZoneSnapshot { current }

    public func subscribe(_ subscriber: any SnapshotSubscriber) async {
        subscribers.append(subscriber)
        await subscriber.apply(current)
    }

    public func add(_ records: [ResourceRecord]) async throws(ZoneStoreError) {
        await lockWrites()
        defer { unlockWrites() }
        var next = state
        for record in records where !next.records.contains(where: { $0.name == record.name && $0.data == record.data }) {
            next.records.append(record)
        }
        try await commit(.addRecords(records), next, touching: records.map(\.name))
    }

    public func remove(_ records: [ResourceRecord]) async throws(ZoneStoreError) {
        await lockWrites()
        defer { unlockWrites() }
        var next = state
        next.records.removeAll { stored in records.contains { $0.name == stored.name && $0.data == stored.data } }
        try await commit(.removeRecords(records), next, touching: records.map(\.name))
    }

    public func replaceRRset(name: DNSName, type: RRType, with records: [ResourceRecord]) async throws(ZoneStoreError) {
        await lockWrites()
        defer { unlockWrites() }
        var next = state
        next.records.removeAll { $0.name == name && $0.type == type }
        next.records += records
        try await commit(.replaceRRset(name: name, type: type, records: records), next, touching: [name])
    }

    // MARK: Challenges

    /// Publishes a challenge value (idempotent for the same name and value).
    public func addChallenge(_ challenge: ChallengeRecord) async throws(ZoneStoreError) {
        await lockWrites()
        defer { unlockWrites() }
        var next = state
        next.challenges.removeAll { $0.name == challenge.name && $0.value == challenge.value }
        next.challenges.append(challenge)
        try await commit(.addChallenge(challenge), next, touching: [challenge.name])
    }

    /// Removes one value; returns false when it was not there.
    @discardableResult
    public func removeChallenge(name: DNSName, value: String) async throws(ZoneStoreError) -> Bool {
        await lockWrites()
        defer { unlockWrites() }
        guard state.challenges.contains(where: { $0.name == name && $0.value == value }) else { return false }
        var next = state
        next.challenges.removeAll { $0.name == name && $0.value == value }
        try await commit(.removeChallenge(name: name, value: value), next, touching: [name])
        return true
    }

    /// Removes every challenge that expired before `now` (unix seconds); returns how many.
    @discardableResult
    public func removeExpiredChallenges(now: Int64) async throws(ZoneStoreError) -> Int {
        await lockWrites()
        defer { unlockWrites() }
        let expired = state.challenges.filter { $0.expiresAt <= now }
        guard !expired.isEmpty else { return 0 }
        var next = state
        next.challenges.removeAll { $0.expiresAt <= now }
        try await commit(.expireChallenges(before: now), next, touching: expired.map(\.name))
        return expired.count
    }

    public func challenges() -> [ChallengeRecord] { state.challenges }

    // MARK: Accounts and credentials

    /// Creates or replaces an acme-dns account; a subdomain belongs to one account.
    public func putAccount(_ account: Account) async throws(ZoneStoreError) {
        await lockWrites()
        defer { unlockWrites() }
        if state.accounts.contains(where: { $0.subdomain == account.subdomain && $0.username != account.username }) {
            throw ZoneStoreError(.conflict, "subdomain \(account.subdomain) belongs to another account")
        }
        var next = state
        next.accounts.removeAll { $0.username == account.username }
        next.accounts.append(account)
        try await commit(.putAccount(account), next, touching: [])
        credentialsGeneration &+= 1
    }

    public func account(username: String) -> Account? { state.accounts.first { $0.username == username } }
    public func accounts() -> [Account] { state.accounts }

    public func putCredential(_ credential: APICredential) async throws(ZoneStoreError) {
        await lockWrites()
        defer { unlockWrites() }
        var next = state
        next.credentials.removeAll { $0.name == credential.name }
        next.credentials.append(credential)
        try await commit(.putCredential(credential), next, touching: [])
        credentialsGeneration &+= 1
    }

    @discardableResult
    public func removeCredential(name: String) async throws(ZoneStoreError) -> Bool {
        await lockWrites()
        defer { unlockWrites() }
        guard state.credentials.contains(where: { $0.name == name }) else { return false }
        var next = state
        next.credentials.removeAll { $0.name == name }
        try await commit(.removeCredential(name: name), next, touching: [])
        credentialsGeneration &+= 1
        return true
    }

    public func credential(name: String) -> APICredential? { state.credentials.first { $0.name == name } }
    public func credentials() -> [APICredential] { state.credentials }

    // MARK: Commit

    /// Writes run one at a time: the actor lets other calls in while a
    /// write awaits the backend, and a second write built on the same
    /// `state` would drop the first one's change from memory.
    private func lockWrites() async {
        if !writing {
            writing = true
            return
        }
        await withCheckedContinuation { writeQueue.append($0) }
    }

    /// Hands the write lock to the next waiter, or frees it.
    private func unlockWrites() {
        if writeQueue.isEmpty {
            writing = false
        } else {
            writeQueue.removeFirst().resume()
        }
    }

    /// Validates `next` by re-indexing the touched names, makes the change
    /// durable, then swaps state and publishes. On any error nothing changes.
    private func commit(_ change: StoreChange, _ next: StoredState, touching names: [DNSName]) async throws(ZoneStoreError) {
        var next = next
        var byZone: [DNSName: Set<DNSName>] = [:]
        for name in names {
            guard let zone = current.zone(containing: name) else {
                throw ZoneStoreError(.noSuchZone, name: name, "\(name) is in no zone served here")
            }
            byZone[zone.origin, default: []].insert(name)
        }
        var snapshot = current
        for (origin, touched) in byZone {
            guard let configuration = configurations[origin], let index = current[origin] else { continue }
            let serial = (next.serials[origin] ?? configuration.serial) &+ 1
            next.serials[origin] = serial
            let updated = try index.updating(touched, soa: configuration.soa(serial: serial)) { name in
                records(at: name, origin: origin, state: next)
            }
            snapshot = snapshot.replacing(updated)
        }
        let raised = next.serials.filter { byZone[$0.key] != nil }
        try await backend.apply(change, serials: raised)
        state = next
        if byZone.isEmpty { return }
        current = snapshot
        for subscriber in subscribers { await subscriber.apply(snapshot) }
    }

    /// Everything served at `name` in zone `origin` except the SOA: static,
    /// dynamic and challenge records.
    private func records(at name: DNSName, origin: DNSName, state: StoredState) -> [ResourceRecord] {
        var records = staticRecords[origin]?[name] ?? []
        records += state.records.filter { $0.name == name }
        for challenge in state.challenges where challenge.name == name {
            records.append(ResourceRecord(name: challenge.name, ttl: challengeTTL, data: .txt(TXT(text: challenge.value))))
        }
        return records
    }

    /// One zone's index from its configuration and the stored items inside it.
    static func index(_ origin: DNSName, configurations: [DNSName: ZoneConfiguration], state: StoredState, challengeTTL: UInt32) throws(ZoneStoreError) -> ZoneIndex {
        guard let configuration = configurations[origin] else {
            throw ZoneStoreError(.noSuchZone, name: origin, "no zone \(origin)")
        }
        // A deeper zone we also serve owns the names below its apex.
        let inZone: (DNSName) -> Bool = { name in
            guard name.isSubdomain(of: origin) else { return false }
            return !configurations.keys.contains { $0 != origin && $0.isSubdomain(of: origin) && name.isSubdomain(of: $0) }
        }
        var records = try configuration.validatedRecords()
        records[0] = configuration.soa(serial: state.serials[origin] ?? configuration.serial)
        records += state.records.filter { inZone($0.name) }
        for challenge in state.challenges where inZone(challenge.name) {
            records.append(ResourceRecord(name: challenge.name, ttl: challengeTTL, data: .txt(TXT(text: challenge.value))))
        }
        return try ZoneIndex(origin: origin, records: records)
    }
}
