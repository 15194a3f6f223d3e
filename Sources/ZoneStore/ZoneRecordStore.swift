import DNSWire
import Synchronization

/// The `RecordStore`: zones (from the configuration and added at runtime),
/// their records, challenge TXT values, acme-dns accounts, API credentials
/// and TSIG keys, kept durably by a `StoreBackend` and served as
/// `ZoneSnapshot`s.
///
/// Every change is validated against the zone (CNAME conflicts, zone
/// membership), made durable by the backend, then published to every
/// subscriber with the zone's SOA serial raised, and only then returns.
/// A change costs time in proportion to the names it touches, not to the
/// size of the zone: the state and the indexes are hash tries that share
/// structure between versions. Each commit also journals what it changed
/// per zone (for IXFR) and appends to the change log that other replicas
/// (and other processes on the same SQLite file) follow through `catchUp()`.
///
/// Reads (`view()`, `snapshot()`) never wait for the actor: they take the
/// last published version under a short lock.
public actor ZoneRecordStore: RecordStore {
    private let backend: any StoreBackend
    /// How challenge records are served.
    public nonisolated let challengeSettings: ChallengeSettings
    private var state: StoreState
    private var current: ZoneSnapshot
    private nonisolated let published: Mutex<(snapshot: ZoneSnapshot, view: StoreView)>
    private var subscribers: [any SnapshotSubscriber] = []
    /// Changes waiting for the next group commit, in arrival order.
    private var pending: [PendingWrite] = []
    private var committing = false
    /// Someone asked to apply what other writers committed.
    private var catchUpWaiters: [CheckedContinuation<Result<Int, ZoneStoreError>, Never>] = []
    /// When this store last knew it had everything committed so far (a
    /// load, a commit, a catch-up). A write after a quiet spell catches up
    /// first, outside the backend's lock, so that the lock is never held
    /// while replaying a long run of other writers' changes (a CLI process
    /// that loaded the store a second ago, a replica that was idle).
    private var lastSynchronised = ContinuousClock.now
    /// How old `lastSynchronised` may be before a write catches up first.
    private static let staleAfter = Duration.milliseconds(50)
    /// Stored records and challenge values that fall in no zone (a zone
    /// was removed); kept in storage, not served.
    public private(set) var orphanedRecords = 0

    /// TTL of the TXT records served for challenges.
    public nonisolated var challengeTTL: UInt32 { challengeSettings.ttl }
    /// False for a store opened with `init(directoryFrom:)`: it holds
    /// accounts, credentials and keys only, and refuses writes to zones.
    public nonisolated let holdsZones: Bool

    /// Opens the store: loads what the backend keeps, then reconciles the
    /// zones of the configuration into it (see `reconcile(configuration:)`).
    public init(zones: [ZoneConfiguration], backend: any StoreBackend = MemoryBackend(), challenge: ChallengeSettings = ChallengeSettings()) async throws(ZoneStoreError) {
        var seen: Set<DNSName> = []
        for zone in zones where !seen.insert(zone.origin).inserted {
            throw ZoneStoreError(.duplicateZone, name: zone.origin, "zone \(zone.origin) is defined twice")
        }
        self.backend = backend
        challengeSettings = challenge
        holdsZones = true
        let loaded = StoreState(try await backend.load())
        let snapshot = try Self.build(loaded, settings: challenge, generation: 0)
        state = loaded
        current = snapshot
        published = Mutex((snapshot, StoreView(state: loaded, challengeTTL: challenge.ttl)))
        try await reconcile(configuration: zones)
        countOrphans()
    }

    /// Opens the accounts, credentials and TSIG keys of what `backend`
    /// keeps, and nothing of its zones: what `cdnsd credential add` needs,
    /// at a cost that does not grow with the zones (no records read, no
    /// zone indexed, the configuration's zones not reconciled). Its writes
    /// go into the change log that serving stores follow; a write that
    /// touches a zone, a record or a challenge fails with `.noSuchZone`.
    public init(directoryFrom backend: any StoreBackend, challenge: ChallengeSettings = ChallengeSettings()) async throws(ZoneStoreError) {
        self.backend = backend
        challengeSettings = challenge
        holdsZones = false
        let loaded = StoreState(try await backend.load(tables: StoreSchema.directoryTables))
        let snapshot = try ZoneSnapshot(zones: [])
        state = loaded
        current = snapshot
        published = Mutex((snapshot, StoreView(state: loaded, challengeTTL: challenge.ttl)))
    }

    // MARK: Reading

    /// The snapshot being served now.
    public nonisolated func snapshot() -> ZoneSnapshot { published.withLock { $0.snapshot } }

    /// Everything the store holds now, for reading.
    public nonisolated func view() -> StoreView { published.withLock { $0.view } }

    public nonisolated func account(username: String) -> Account? { view().account(username: username) }
    public nonisolated func accounts() -> [Account] { view().accounts }
    public nonisolated func credential(name: String) -> APICredential? { view().credential(name: name) }
    public nonisolated func credentials() -> [APICredential] { view().credentials }
    public nonisolated func tsigKey(name: DNSName) -> TSIGKey? { view().tsigKey(name: name) }
    public nonisolated func tsigKeys() -> [TSIGKey] { view().tsigKeys }
    public nonisolated func challenges() -> [ChallengeRecord] { view().challenges }

    /// The change-log position this store has applied.
    public var position: Int64 { state.position }

    /// Asks the backend whether it can read and write; for health checks.
    /// Does not wait behind writes.
    public nonisolated func checkHealth() async throws(ZoneStoreError) {
        try await backend.checkHealth()
    }

    /// The IXFR journal of `origin`, oldest first.
    public nonisolated func journal(origin: DNSName) async throws(ZoneStoreError) -> [ZoneDelta] {
        try await backend.journal(origin: origin)
    }

    /// The journal of `origin` from the newest entry that starts at
    /// `serial`; empty when none does (the secondary needs AXFR).
    public nonisolated func journal(origin: DNSName, since serial: UInt32) async throws(ZoneStoreError) -> [ZoneDelta] {
        try await backend.journal(origin: origin, since: serial)
    }

    public func subscribe(_ subscriber: any SnapshotSubscriber) async {
        subscribers.append(subscriber)
        await subscriber.apply(current)
    }

    // MARK: Following other writers

    /// Applies what other writers (replicas, other processes) committed
    /// since this store's position, or everything again when the change
    /// log no longer reaches back; returns once it is served. Calls that
    /// arrive while one runs are coalesced into the next. Returns how many
    /// change-log entries were applied.
    @discardableResult
    public func catchUp() async throws(ZoneStoreError) -> Int {
        let result = await withCheckedContinuation { (done: CheckedContinuation<Result<Int, ZoneStoreError>, Never>) in
            catchUpWaiters.append(done)
            startCommitting()
        }
        return try result.get()
    }

    /// Reads everything from the backend again and republishes.
    public func reload() async throws(ZoneStoreError) {
        while committing {
            try await catchUp()
        }
        committing = true
        defer { finishCommitting() }
        try await fullReload()
    }

    // MARK: RecordStore

    public func add(_ records: [ResourceRecord]) async throws(ZoneStoreError) {
        _ = try await write { view throws(ZoneStoreError) in
            for record in records { try Self.checkRuntime(record, view: view) }
            return (records.map { .put(.record($0, fromConfiguration: false)) }, 1)
        }
    }

    public func remove(_ records: [ResourceRecord]) async throws(ZoneStoreError) {
        _ = try await write { view throws(ZoneStoreError) in
            let stored = records.flatMap { record in
                view.storedRecords(at: record.name).filter { $0.record.type == record.type && $0.record.data == record.data }
            }
            return (stored.map { .delete(.record($0.record, fromConfiguration: $0.fromConfiguration)) }, 1)
        }
    }

    public func replaceRRset(name: DNSName, type: RRType, with records: [ResourceRecord]) async throws(ZoneStoreError) {
        _ = try await write { view throws(ZoneStoreError) in
            for record in records { try Self.checkRuntime(record, view: view) }
            let old = view.storedRecords(at: name).filter { $0.record.type == type }
            return (old.map { .delete(.record($0.record, fromConfiguration: $0.fromConfiguration)) }
                + records.map { .put(.record($0, fromConfiguration: false)) }, 1)
        }
    }

    /// A record a runtime change may add: servable, in a zone, and not the
    /// SOA or apex NS (those come from the zone's settings).
    static func checkRuntime(_ record: ResourceRecord, view: StoreView) throws(ZoneStoreError) {
        guard !record.type.isMetaType, record.rrClass == .in else {
            throw ZoneStoreError(.badRecord, name: record.name, "\(record.rrClass) \(record.type) cannot be served from a zone")
        }
        guard let zone = view.zone(containing: record.name) else {
            throw ZoneStoreError(.noSuchZone, name: record.name, "\(record.name) is in no zone served here")
        }
        guard record.type != .soa else {
            throw ZoneStoreError(.badRecord, name: record.name, "the SOA comes from the zone settings, not from records")
        }
        guard !(record.type == .ns && record.name == zone.origin) else {
            throw ZoneStoreError(.badRecord, name: record.name, "the apex NS records come from the zone's name servers")
        }
    }

    // MARK: Zones

    /// Makes the stored zones and records follow `configuration`: zones it
    /// defines are added or updated, zones an earlier configuration defined
    /// and this one does not are removed, its records replace the records
    /// an earlier configuration seeded, and a record it names replaces
    /// runtime records of the same name and type (the file wins for what it
    /// names; other runtime records stay). One atomic change, journalled
    /// like any other; nothing happens when nothing differs.
    public func reconcile(configuration zones: [ZoneConfiguration]) async throws(ZoneStoreError) {
        var seeds: [ResourceRecord] = []
        for zone in zones { seeds += try zone.validatedRecords().filter { $0.type != .soa && !($0.type == .ns && $0.name == zone.origin) } }
        _ = try await write { view throws(ZoneStoreError) in
            var operations: [StoreOperation] = []
            let wanted = Set(zones.map(\.origin))
            for zone in zones {
                var settings = zone
                settings.records = []
                let existing = view.state.zones[zone.origin]
                if existing?.fromConfiguration != true || existing?.configuration != Self.stored(settings, like: existing?.configuration) {
                    operations.append(.put(.zone(settings, fromConfiguration: true)))
                }
            }
            for (origin, zone) in view.state.zones where zone.fromConfiguration && !wanted.contains(origin) {
                operations.append(.delete(.zone(zone.configuration, fromConfiguration: true)))
            }
            // One pass over what is stored: configuration records no longer
            // configured go; runtime records are kept aside for the check below.
            // A restart with the same file builds one set and writes nothing.
            let seeded = Set(seeds.map { StoreState.Record(record: $0, fromConfiguration: true) })
            var kept = 0
            var runtime: [ResourceRecord] = []
            for (_, list) in view.state.records {
                for entry in list {
                    if !entry.fromConfiguration {
                        runtime.append(entry.record)
                    } else if seeded.contains(entry) {
                        kept += 1
                    } else {
                        operations.append(.delete(.record(entry.record, fromConfiguration: true)))
                    }
                }
            }
            if kept < seeded.count {
                for record in seeds where !(view.state.records[record.name]?.contains(StoreState.Record(record: record, fromConfiguration: true)) ?? false) {
                    operations.append(.put(.record(record, fromConfiguration: true)))
                }
            }
            // The file's RRsets replace runtime records of the same name and type.
            if !runtime.isEmpty {
                let named = Set(seeds.map { RRsetKey(name: $0.name, type: $0.type) })
                for record in runtime where named.contains(RRsetKey(name: record.name, type: record.type))
                    && !seeded.contains(StoreState.Record(record: record, fromConfiguration: true)) {
                    operations.append(.delete(.record(record, fromConfiguration: false)))
                }
            }
            return (operations, 1)
        }
    }

    /// `settings` as a stored row would hold it, for comparing (the serial
    /// is not part of the row).
    private static func stored(_ settings: ZoneConfiguration, like existing: ZoneConfiguration?) -> ZoneConfiguration {
        var copy = settings
        copy.serial = existing?.serial ?? settings.serial
        return copy
    }

    /// Adds a zone at runtime, or changes its settings.
    public func putZone(_ zone: ZoneConfiguration) async throws(ZoneStoreError) {
        var settings = zone
        settings.records = []
        _ = try await write { view throws(ZoneStoreError) in
            ([.put(.zone(settings, fromConfiguration: view.state.zones[settings.origin]?.fromConfiguration ?? false))], 1)
        }
    }

    /// Stops serving a zone. Its records stay stored (not served) until a
    /// zone with that apex comes back. Returns false when it was not there.
    @discardableResult
    public func removeZone(origin: DNSName) async throws(ZoneStoreError) -> Bool {
        try await write { view throws(ZoneStoreError) in
            guard let zone = view.state.zones[origin] else { return ([], 0) }
            return ([.delete(.zone(zone.configuration, fromConfiguration: zone.fromConfiguration))], 1)
        } > 0
    }

    // MARK: Challenges

    /// Publishes a challenge value (idempotent for the same name and value).
    /// At a name that holds `ChallengeSettings.maxValuesPerName` values
    /// already (or 60,000 bytes of them), a new value fails with
    /// `limitReached`, or, with `evictingOldest`, first removes the oldest
    /// values of the same owner to make room (acme-dns clients never delete
    /// what they publish; acme-dns itself keeps two per name).
    public func addChallenge(_ challenge: ChallengeRecord, evictingOldest: Bool = false) async throws(ZoneStoreError) {
        let limit = challengeSettings.maxValuesPerName
        _ = try await write { view throws(ZoneStoreError) in
            guard view.zone(containing: challenge.name) != nil else {
                throw ZoneStoreError(.noSuchZone, name: challenge.name, "\(challenge.name) is in no zone served here")
            }
            var operations: [StoreOperation] = []
            if evictingOldest {
                // Only the publisher's own values make room; values of others are never evicted.
                let others = view.challenges(at: challenge.name).filter { $0.value != challenge.value }
                if others.count >= limit {
                    let own = others.filter { $0.owner == challenge.owner }
                    let oldest = own.sorted { ($0.createdAt, $0.value) < ($1.createdAt, $1.value) }.prefix(others.count - limit + 1)
                    operations += oldest.map { .delete(.challenge($0)) }
                }
            }
            return (operations + [.put(.challenge(challenge))], 1)
        }
    }

    /// Removes one value; returns false when it was not there.
    @discardableResult
    public func removeChallenge(name: DNSName, value: String) async throws(ZoneStoreError) -> Bool {
        try await write { view throws(ZoneStoreError) in
            let matching = view.challenges(at: name).filter { $0.value == value }
            return (matching.map { .delete(.challenge($0)) }, matching.count)
        } > 0
    }

    /// Removes every challenge that expired before `now` (unix seconds); returns how many.
    @discardableResult
    public func removeExpiredChallenges(now: Int64) async throws(ZoneStoreError) -> Int {
        try await write { view throws(ZoneStoreError) in
            let expired = view.state.challenges.values.flatMap { $0.filter { $0.expiresAt <= now } }
            return (expired.map { .delete(.challenge($0)) }, expired.count)
        }
    }

    // MARK: Accounts, credentials, keys

    /// Creates or replaces an acme-dns account; a subdomain belongs to one account.
    public func putAccount(_ account: Account) async throws(ZoneStoreError) {
        _ = try await write { view throws(ZoneStoreError) in
            if let owner = view.account(subdomain: account.subdomain), owner.username != account.username {
                throw ZoneStoreError(.conflict, "subdomain \(account.subdomain) belongs to another account")
            }
            return ([.put(.account(account))], 1)
        }
    }

    /// Removes an account; returns false when it was not there.
    @discardableResult
    public func removeAccount(username: String) async throws(ZoneStoreError) -> Bool {
        try await write { view throws(ZoneStoreError) in
            guard let account = view.account(username: username) else { return ([], 0) }
            return ([.delete(.account(account))], 1)
        } > 0
    }

    public func putCredential(_ credential: APICredential) async throws(ZoneStoreError) {
        _ = try await write { _ throws(ZoneStoreError) in ([.put(.credential(credential))], 1) }
    }

    @discardableResult
    public func removeCredential(name: String) async throws(ZoneStoreError) -> Bool {
        try await write { view throws(ZoneStoreError) in
            guard let credential = view.credential(name: name) else { return ([], 0) }
            return ([.delete(.credential(credential))], 1)
        } > 0
    }

    /// Creates or replaces a TSIG key.
    public func putTSIGKey(_ key: TSIGKey) async throws(ZoneStoreError) {
        _ = try await write { _ throws(ZoneStoreError) in ([.put(.tsigKey(key))], 1) }
    }

    @discardableResult
    public func removeTSIGKey(name: DNSName) async throws(ZoneStoreError) -> Bool {
        try await write { view throws(ZoneStoreError) in
            guard let key = view.tsigKey(name: name) else { return ([], 0) }
            return ([.delete(.tsigKey(key))], 1)
        } > 0
    }

    // MARK: Writing

    /// A change worked out against the store's contents at commit time:
    /// the row operations and what the caller gets back.
    public typealias WritePlan = (operations: [StoreOperation], result: Int)

    /// Commits the operations `plan` works out against the contents at
    /// commit time, atomically, and returns the plan's result once durable
    /// and served. Everything a plan throws fails that write alone; what
    /// its operations break (a CNAME beside other data, a name in no
    /// zone) too. The general form behind every other write.
    public func write(_ plan: @escaping (StoreView) throws(ZoneStoreError) -> WritePlan) async throws(ZoneStoreError) -> Int {
        let result = await withCheckedContinuation { (done: CheckedContinuation<Result<Int, ZoneStoreError>, Never>) in
            pending.append(PendingWrite(plan: plan, done: done))
            startCommitting()
        }
        return try result.get()
    }

    private struct PendingWrite {
        var plan: (StoreView) throws(ZoneStoreError) -> WritePlan
        var done: CheckedContinuation<Result<Int, ZoneStoreError>, Never>
    }

    private func startCommitting() {
        guard !committing else { return }
        committing = true
        Task { await self.commitPending() }
    }

    private func finishCommitting() {
        if !pending.isEmpty || !catchUpWaiters.isEmpty {
            Task { await self.commitPending() }
            return
        }
        committing = false
    }

    /// Commits what is queued, batch after batch, until the queue is empty.
    ///
    /// Writes are group-committed: every change that arrives while a commit
    /// is on disk goes into the next one, each validated on its own against
    /// the contents before it, all made durable in one backend transaction
    /// (one fsync), then published once.
    private func commitPending() async {
        while !pending.isEmpty || !catchUpWaiters.isEmpty {
            if !catchUpWaiters.isEmpty {
                let waiters = catchUpWaiters
                catchUpWaiters.removeAll()
                let result: Result<Int, ZoneStoreError>
                do {
                    result = .success(try await applyMissed())
                } catch {
                    result = .failure(error)
                }
                for waiter in waiters { waiter.resume(returning: result) }
                continue
            }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            let results = await commit(batch.map(\.plan))
            for (write, result) in zip(batch, results) { write.done.resume(returning: result) }
        }
        finishCommitting()
    }

    /// What a commit made, worked out under the backend's lock.
    private struct Prepared: Sendable {
        var state: StoreState
        var snapshot: ZoneSnapshot
        var results: [Result<Int, ZoneStoreError>]
        /// A missed entry could not be replayed: load everything first.
        var needsReload = false
    }

    /// The plans of one batch; only the commit that carries them runs
    /// them, while this actor waits for it.
    private struct Plans: @unchecked Sendable {
        var plans: [(StoreView) throws(ZoneStoreError) -> WritePlan]
    }

    /// Commits one batch: works it out against this store's state first,
    /// then, inside the backend's transaction, keeps that result when no
    /// other writer committed meanwhile (the lock is held only for the
    /// writing), or else replays what they committed and stages every plan
    /// again on top. Writes the result as one entry and publishes it. A
    /// batch that changes nothing takes no lock at all. Returns each plan's
    /// result.
    private func commit(_ plans: [(StoreView) throws(ZoneStoreError) -> WritePlan]) async -> [Result<Int, ZoneStoreError>] {
        let box = Plans(plans: plans)
        let settings = challengeSettings
        let indexesZones = holdsZones
        if ContinuousClock.now - lastSynchronised > Self.staleAfter {
            do {
                try await applyMissed()
            } catch {
                return plans.map { _ in .failure(error) }
            }
        }
        while true {
            let base = state
            let baseSnapshot = current
            do {
                let early = try Self.prepare(plans, on: base, baseSnapshot, missed: [], settings: settings, indexesZones: indexesZones)
                guard early.change != nil else { return early.outcome.results }
                let prepared = try await backend.commit(after: base.position) { missed throws(ZoneStoreError) in
                    missed.isEmpty ? early : try Self.prepare(box.plans, on: base, baseSnapshot, missed: missed, settings: settings, indexesZones: indexesZones)
                }
                guard let prepared, !prepared.needsReload else {
                    try await fullReload()
                    continue
                }
                await publish(prepared.state, prepared.snapshot)
                return prepared.results
            } catch {
                // Nothing in the batch was kept: everyone it carried fails.
                return plans.map { _ in .failure(error) }
            }
        }
    }

    /// The change `plans` make on top of `base` and the entries other writers committed after it.
    private static func prepare(_ plans: [(StoreView) throws(ZoneStoreError) -> WritePlan], on base: StoreState, _ baseSnapshot: ZoneSnapshot,
                                missed: [LoggedChange], settings: ChallengeSettings, indexesZones: Bool) throws(ZoneStoreError) -> (change: ChangeSet?, outcome: Prepared) {
        var state = base
        var snapshot = baseSnapshot
        if !missed.isEmpty {
            var replay = Staging(base: state, snapshot: snapshot, settings: settings, indexesZones: indexesZones)
            for change in missed {
                guard case .operations(let operations, let serials) = change.body, change.position == replay.state.position + 1,
                      (try? replay.replay(operations, serials: serials)) != nil else {
                    return (nil, Prepared(state: base, snapshot: baseSnapshot, results: [], needsReload: true))
                }
            }
            let replayed = try replay.freeze(now: now())
            state = replayed.state
            snapshot = replayed.snapshot
        }
        var staged = Staging(base: state, snapshot: snapshot, settings: settings, indexesZones: indexesZones)
        let results = plans.map { staged.stage($0) }
        guard !staged.operations.isEmpty else { return (nil, Prepared(state: state, snapshot: snapshot, results: results)) }
        let next = try staged.freeze(now: now())
        return (next.change, Prepared(state: next.state, snapshot: next.snapshot, results: results))
    }

    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec)
    }

    /// Makes `state` and `snapshot` current, for readers and subscribers.
    private func publish(_ state: StoreState, _ snapshot: ZoneSnapshot) async {
        lastSynchronised = ContinuousClock.now
        let changedZones = snapshot.generation != current.generation
        self.state = state
        current = snapshot
        let view = StoreView(state: state, challengeTTL: challengeSettings.ttl)
        published.withLock { $0 = (snapshot, view) }
        if changedZones {
            for subscriber in subscribers { await subscriber.apply(snapshot) }
        }
    }

    /// Applies the change-log entries other writers committed after this
    /// store's position; returns how many.
    @discardableResult
    private func applyMissed() async throws(ZoneStoreError) -> Int {
        let asked = ContinuousClock.now
        guard let changes = try await backend.changes(after: state.position) else {
            try await fullReload()
            return 1
        }
        guard !changes.isEmpty else {
            lastSynchronised = asked
            return 0
        }
        var staged = Staging(base: state, snapshot: current, settings: challengeSettings, indexesZones: holdsZones)
        for change in changes {
            guard case .operations(let operations, let serials) = change.body, change.position == staged.state.position + 1 else {
                try await fullReload()
                return changes.count
            }
            do {
                try staged.replay(operations, serials: serials)
            } catch {
                // The writer accepted what this replica cannot index: start again from the database.
                try await fullReload()
                return changes.count
            }
        }
        let next = try staged.freeze(now: Self.now())
        await publish(next.state, next.snapshot)
        return changes.count
    }

    /// Loads everything again and rebuilds every zone (the directory
    /// alone for a store that holds no zones).
    private func fullReload() async throws(ZoneStoreError) {
        guard holdsZones else {
            await publish(StoreState(try await backend.load(tables: StoreSchema.directoryTables)), current)
            return
        }
        let loaded = StoreState(try await backend.load())
        let snapshot = try Self.build(loaded, settings: challengeSettings, generation: current.generation &+ 1)
        await publish(loaded, snapshot)
        countOrphans()
    }

    private func countOrphans() {
        orphanedRecords = state.records.filter { state.zone(containing: $0.key) == nil }.reduce(0) { $0 + $1.value.count }
            + state.challenges.filter { state.zone(containing: $0.key) == nil }.reduce(0) { $0 + $1.value.count }
    }

    /// Every zone's index from `state`.
    static func build(_ state: StoreState, settings: ChallengeSettings, generation: UInt64) throws(ZoneStoreError) -> ZoneSnapshot {
        var indexes: [ZoneIndex] = []
        for zone in state.zones.values {
            let draft = try Staging.draft(zone, from: state, settings: settings)
            let serial = state.serials[zone.configuration.origin] ?? zone.configuration.serial
            indexes.append(ZoneIndex(draft: draft, soa: zone.configuration.soa(serial: serial), settings: settings))
        }
        var snapshot = try ZoneSnapshot(zones: indexes)
        snapshot.generation = generation
        return snapshot
    }
}

/// A name and type: one RRset's key.
struct RRsetKey: Hashable {
    var name: DNSName
    var type: RRType
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
