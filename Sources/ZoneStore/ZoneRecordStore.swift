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
    /// Changes waiting for the next group commit, in arrival order.
    private var pending: [PendingWrite] = []
    private var committing = false
    /// Reloads waiting for the commits in progress to finish.
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
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
        while committing {
            await withCheckedContinuation { idleWaiters.append($0) }
        }
        committing = true
        defer { commitsFinished() }
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
        _ = try await write { state in
            var next = state
            for record in records where !next.records.contains(where: { $0.name == record.name && $0.data == record.data }) {
                next.records.append(record)
            }
            return .success(Mutation(change: .addRecords(records), next: next, touching: records.map(\.name)))
        }
    }

    public func remove(_ records: [ResourceRecord]) async throws(ZoneStoreError) {
        _ = try await write { state in
            var next = state
            next.records.removeAll { stored in records.contains { $0.name == stored.name && $0.data == stored.data } }
            return .success(Mutation(change: .removeRecords(records), next: next, touching: records.map(\.name)))
        }
    }

    public func replaceRRset(name: DNSName, type: RRType, with records: [ResourceRecord]) async throws(ZoneStoreError) {
        _ = try await write { state in
            var next = state
            next.records.removeAll { $0.name == name && $0.type == type }
            next.records += records
            return .success(Mutation(change: .replaceRRset(name: name, type: type, records: records), next: next, touching: [name]))
        }
    }

    // MARK: Challenges

    /// Publishes a challenge value (idempotent for the same name and value).
    public func addChallenge(_ challenge: ChallengeRecord) async throws(ZoneStoreError) {
        _ = try await write { state in
            var next = state
            next.challenges.removeAll { $0.name == challenge.name && $0.value == challenge.value }
            next.challenges.append(challenge)
            return .success(Mutation(change: .addChallenge(challenge), next: next, touching: [challenge.name]))
        }
    }

    /// Removes one value; returns false when it was not there.
    @discardableResult
    public func removeChallenge(name: DNSName, value: String) async throws(ZoneStoreError) -> Bool {
        try await write { state in
            guard state.challenges.contains(where: { $0.name == name && $0.value == value }) else { return .success(nil) }
            var next = state
            next.challenges.removeAll { $0.name == name && $0.value == value }
            return .success(Mutation(change: .removeChallenge(name: name, value: value), next: next, touching: [name]))
        } > 0
    }

    /// Removes every challenge that expired before `now` (unix seconds); returns how many.
    @discardableResult
    public func removeExpiredChallenges(now: Int64) async throws(ZoneStoreError) -> Int {
        try await write { state in
            let expired = state.challenges.filter { $0.expiresAt <= now }
            guard !expired.isEmpty else { return .success(nil) }
            var next = state
            next.challenges.removeAll { $0.expiresAt <= now }
            return .success(Mutation(change: .expireChallenges(before: now), next: next, touching: expired.map(\.name), count: expired.count))
        }
    }

    public func challenges() -> [ChallengeRecord] { state.challenges }

    // MARK: Accounts and credentials

    /// Creates or replaces an acme-dns account; a subdomain belongs to one account.
    public func putAccount(_ account: Account) async throws(ZoneStoreError) {
        _ = try await write { state in
            if state.accounts.contains(where: { $0.subdomain == account.subdomain && $0.username != account.username }) {
                return .failure(ZoneStoreError(.conflict, "subdomain \(account.subdomain) belongs to another account"))
            }
            var next = state
            next.accounts.removeAll { $0.username == account.username }
            next.accounts.append(account)
            return .success(Mutation(change: .putAccount(account), next: next, touching: [], credentials: true))
        }
    }

    public func account(username: String) -> Account? { state.accounts.first { $0.username == username } }
    public func accounts() -> [Account] { state.accounts }

    public func putCredential(_ credential: APICredential) async throws(ZoneStoreError) {
        _ = try await write { state in
            var next = state
            next.credentials.removeAll { $0.name == credential.name }
            next.credentials.append(credential)
            return .success(Mutation(change: .putCredential(credential), next: next, touching: [], credentials: true))
        }
    }

    @discardableResult
    public func removeCredential(name: String) async throws(ZoneStoreError) -> Bool {
        try await write { state in
            guard state.credentials.contains(where: { $0.name == name }) else { return .success(nil) }
            var next = state
            next.credentials.removeAll { $0.name == name }
            return .success(Mutation(change: .removeCredential(name: name), next: next, touching: [], credentials: true))
        } > 0
    }

    public func credential(name: String) -> APICredential? { state.credentials.first { $0.name == name } }
    public func credentials() -> [APICredential] { state.credentials }

    /// Creates or replaces a TSIG key.
    public func putTSIGKey(_ key: TSIGKey) async throws(ZoneStoreError) {
        _ = try await write { state in
            var next = state
            next.tsigKeys.removeAll { $0.name == key.name }
            next.tsigKeys.append(key)
            return .success(Mutation(change: .putTSIGKey(key), next: next, touching: [], credentials: true))
        }
    }

    @discardableResult
    public func removeTSIGKey(name: DNSName) async throws(ZoneStoreError) -> Bool {
        try await write { state in
            guard state.tsigKeys.contains(where: { $0.name == name }) else { return .success(nil) }
            var next = state
            next.tsigKeys.removeAll { $0.name == name }
            return .success(Mutation(change: .removeTSIGKey(name: name), next: next, touching: [], credentials: true))
        } > 0
    }

    public func tsigKey(name: DNSName) -> TSIGKey? { state.tsigKeys.first { $0.name == name } }
    public func tsigKeys() -> [TSIGKey] { state.tsigKeys }

    // MARK: Commit

    /// One change worked out against the state it applies to.
    private struct Mutation {
        var change: StoreChange
        var next: StoredState
        /// Names whose records change, to re-index.
        var touching: [DNSName]
        /// What the caller gets back (items removed); 1 for a plain change.
        var count = 1
        /// Whether accounts or credentials change.
        var credentials = false
    }

    /// A change waiting for the next group commit. `build` turns the state
    /// as it will be then into the change, or nil when there is nothing to do.
    private struct PendingWrite {
        var build: (StoredState) -> Result<Mutation?, ZoneStoreError>
        var done: CheckedContinuation<Result<Int, ZoneStoreError>, Never>
    }

    /// Queues a change and waits until it is durable and published.
    ///
    /// Writes are group-committed: every change that arrives while a commit
    /// is on disk goes into the next one, each validated on its own against
    /// the state before it, all made durable in one backend transaction
    /// (one fsync), then published once. The actor lets calls in while a
    /// commit awaits the backend, so changes are built from the state at
    /// commit time, never from a state another write is replacing.
    private func write(_ build: @escaping (StoredState) -> Result<Mutation?, ZoneStoreError>) async throws(ZoneStoreError) -> Int {
        let result = await withCheckedContinuation { (done: CheckedContinuation<Result<Int, ZoneStoreError>, Never>) in
            pending.append(PendingWrite(build: build, done: done))
            if !committing {
                committing = true
                Task { await self.commitPending() }
            }
        }
        return try result.get()
    }

    /// Commits what is queued, batch after batch, until the queue is empty.
    private func commitPending() async {
        while !pending.isEmpty {
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            var results: [Result<Int, ZoneStoreError>] = []
            var working = state
            var snapshot = current
            var changes: [StoreChange] = []
            var zones: Set<DNSName> = []
            var credentials = false
            for write in batch {
                switch write.build(working) {
                case .failure(let error):
                    results.append(.failure(error))
                case .success(nil):
                    results.append(.success(0))
                case .success(let mutation?):
                    do {
                        snapshot = try reindex(mutation, in: snapshot, zones: &zones)
                        working = mutation.next
                        changes.append(mutation.change)
                        credentials = credentials || mutation.credentials
                        results.append(.success(mutation.count))
                    } catch {
                        results.append(.failure(error))
                    }
                }
            }
            if !changes.isEmpty {
                for origin in zones {
                    working.serials[origin] = nextSerial(origin)
                }
                do {
                    try await backend.apply(changes, serials: working.serials.filter { zones.contains($0.key) })
                    state = working
                    if credentials { credentialsGeneration &+= 1 }
                    if !zones.isEmpty {
                        current = snapshot
                        for subscriber in subscribers { await subscriber.apply(snapshot) }
                    }
                } catch {
                    // Nothing in the batch was kept: everyone it carried fails.
                    results = results.map { result in result.flatMap { _ in .failure(error) } }
                }
            }
            for (write, result) in zip(batch, results) { write.done.resume(returning: result) }
        }
        commitsFinished()
    }

    /// The serial a zone gets from the commit in progress.
    private func nextSerial(_ origin: DNSName) -> UInt32 {
        (state.serials[origin] ?? configurations[origin]?.serial ?? 0) &+ 1
    }

    /// Called by whoever held `committing`: starts on writes queued
    /// meanwhile, or frees the store for a waiting reload.
    private func commitsFinished() {
        if !pending.isEmpty {
            Task { await self.commitPending() }
            return
        }
        committing = false
        let waiters = idleWaiters
        idleWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    /// `snapshot` with the names `mutation` touches re-indexed from its
    /// next state, under each zone's next serial; throws what the zone
    /// refuses (a CNAME beside other data, a name in no zone).
    private func reindex(_ mutation: Mutation, in snapshot: ZoneSnapshot, zones: inout Set<DNSName>) throws(ZoneStoreError) -> ZoneSnapshot {
        var byZone: [DNSName: Set<DNSName>] = [:]
        for name in mutation.touching {
            guard let zone = snapshot.zone(containing: name) else {
                throw ZoneStoreError(.noSuchZone, name: name, "\(name) is in no zone served here")
            }
            byZone[zone.origin, default: []].insert(name)
        }
        var snapshot = snapshot
        for (origin, touched) in byZone {
            guard let configuration = configurations[origin], let index = snapshot[origin] else { continue }
            let serial = nextSerial(origin)
            let next = mutation.next
            let updated = try index.updating(touched, soa: configuration.soa(serial: serial)) { name in
                records(at: name, origin: origin, state: next)
            }
            snapshot = snapshot.replacing(updated)
        }
        zones.formUnion(byZone.keys)
        return snapshot
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
