import DNSWire

/// One commit being put together: row operations applied to a copy of the
/// store's state, the zones they touch re-indexed name by name, and at the
/// end the next snapshot, serials and journal entries. Used both for a
/// batch of local writes (each staged on its own, so a failing one leaves
/// the others) and for replaying what other writers committed.
struct Staging {
    let base: StoreState
    let baseSnapshot: ZoneSnapshot
    let settings: ChallengeSettings
    /// False for a store of accounts, credentials and keys alone: what
    /// other writers did to zones is passed over, a local write to one refused.
    let indexesZones: Bool
    private(set) var state: StoreState
    private var drafts: [DNSName: ZoneIndex.Draft] = [:]
    /// Names re-indexed per zone, for the journal.
    private var touched: [DNSName: Set<DNSName>] = [:]
    /// Zones built again from scratch (created, or reshaped by a zone added
    /// or removed inside them): no journal entry, IXFR falls back to AXFR.
    private var rebuilt: Set<DNSName> = []
    private var settingsChanged: Set<DNSName> = []
    private var removedZones: Set<DNSName> = []
    /// Serials other writers gave, when replaying.
    private var givenSerials: [DNSName: UInt32] = [:]
    private var replaying = false
    private(set) var operations: [StoreOperation] = []

    init(base: StoreState, snapshot: ZoneSnapshot, settings: ChallengeSettings, indexesZones: Bool = true) {
        self.base = base
        baseSnapshot = snapshot
        self.settings = settings
        self.indexesZones = indexesZones
        state = base
    }

    /// Works out and applies one write; on failure nothing of it remains.
    mutating func stage(_ plan: (StoreView) throws(ZoneStoreError) -> ZoneRecordStore.WritePlan) -> Result<Int, ZoneStoreError> {
        let saved = self
        do {
            let planned = try plan(StoreView(state: state, challengeTTL: settings.ttl))
            try apply(planned.operations, replaying: false)
            operations += planned.operations
            return .success(planned.result)
        } catch {
            self = saved
            return .failure(error)
        }
    }

    /// Applies what another writer committed, with the serials it gave.
    mutating func replay(_ operations: [StoreOperation], serials: [DNSName: UInt32]) throws(ZoneStoreError) {
        try apply(operations, replaying: true)
        givenSerials.merge(serials) { $1 }
        state.position += 1
        replaying = true
    }

    private mutating func apply(_ operations: [StoreOperation], replaying: Bool) throws(ZoneStoreError) {
        guard indexesZones else {
            for operation in operations {
                if operation.item.isDirectory {
                    _ = state.apply(operation)
                } else if !replaying {
                    throw ZoneStoreError(.noSuchZone, "this store was opened for accounts, credentials and keys only; it cannot change zones or records")
                }
            }
            return
        }
        var names: [DNSName] = []
        var zoneChanges: [(origin: DNSName, existed: Bool)] = []
        // Names given a value, with what they held before: a local write may
        // not take one past the bound (what other writers committed is applied
        // as it is, and a name already past it may shrink or stay).
        var valuesBefore: [DNSName: ChallengeLoad] = [:]
        if !replaying {
            for case .put(.challenge(let challenge)) in operations where valuesBefore[challenge.name] == nil {
                valuesBefore[challenge.name] = ChallengeLoad(state.challenges[challenge.name] ?? [])
            }
        }
        for operation in operations {
            switch state.apply(operation) {
            case .name(let name): names.append(name)
            case .zone(let origin, let existed): zoneChanges.append((origin, existed))
            case .directory: break
            }
        }
        for (name, before) in valuesBefore {
            let after = ChallengeLoad(state.challenges[name] ?? [])
            if after.exceeds(settings.maxValuesPerName) && after.grew(from: before) {
                throw ZoneStoreError(.limitReached, name: name, "\(name) would hold more than \(settings.maxValuesPerName) challenge values "
                                     + "or \(ChallengeLoad.maxAnswerBytes) bytes of them ([challenge] max_values_per_name); remove some or let them expire")
            }
        }
        for change in zoneChanges {
            if change.existed && state.zones[change.origin] != nil {
                settingsChanged.insert(change.origin)
                names.append(change.origin)
            } else {
                try reshape(around: change.origin)
            }
        }
        for name in names {
            // Names in no zone (a zone was removed) stay stored, unserved.
            guard let zone = state.zone(containing: name) else { continue }
            try reindex(name, in: zone)
        }
    }

    /// A zone appeared or went away: it and every zone above or below it
    /// are built again.
    private mutating func reshape(around origin: DNSName) throws(ZoneStoreError) {
        let related = Set(state.zones.keys).union(baseSnapshot.origins).filter { $0.isSubdomain(of: origin) || origin.isSubdomain(of: $0) }
        for zoneOrigin in related {
            if let zone = state.zones[zoneOrigin] {
                drafts[zoneOrigin] = try Self.draft(zone, from: state, settings: settings)
                rebuilt.insert(zoneOrigin)
                removedZones.remove(zoneOrigin)
            } else {
                drafts[zoneOrigin] = nil
                removedZones.insert(zoneOrigin)
            }
            touched[zoneOrigin] = nil
        }
    }

    private mutating func reindex(_ name: DNSName, in zone: StoreState.Zone) throws(ZoneStoreError) {
        let origin = zone.configuration.origin
        var draft = drafts.removeValue(forKey: origin) ?? baseSnapshot[origin]?.draft() ?? ZoneIndex.Draft(origin: origin)
        let (records, challengeOnly) = state.indexRecords(at: name, in: zone, challengeTTL: settings.ttl)
        try draft.set(name, records: records, challengeOnly: challengeOnly)
        drafts[origin] = draft
        touched[origin, default: []].insert(name)
    }

    /// A whole zone's draft from `state`.
    static func draft(_ zone: StoreState.Zone, from state: StoreState, settings: ChallengeSettings) throws(ZoneStoreError) -> ZoneIndex.Draft {
        let origin = zone.configuration.origin
        var draft = ZoneIndex.Draft(origin: origin)
        for name in state.names(in: origin) {
            let (records, challengeOnly) = state.indexRecords(at: name, in: zone, challengeTTL: settings.ttl)
            try draft.set(name, records: records, challengeOnly: challengeOnly)
        }
        return draft
    }

    /// The result of a staged commit.
    struct Frozen {
        var state: StoreState
        var snapshot: ZoneSnapshot
        var change: ChangeSet
    }

    /// Gives every changed zone its next serial (or the one replayed),
    /// makes the indexes, the journal entries and the next snapshot.
    /// Position moves by one for a local commit.
    func freeze(now: Int64) throws(ZoneStoreError) -> Frozen {
        var state = state
        var zones = baseSnapshot.zones
        var serials: [DNSName: UInt32] = [:]
        var deltas: [ZoneDelta] = []
        for origin in removedZones { zones[origin] = nil }
        for (origin, draft) in drafts {
            guard let zone = state.zones[origin] else { continue }
            let old = rebuilt.contains(origin) ? nil : baseSnapshot[origin]
            let previous = state.serials[origin]
            var delta: ZoneDelta? = nil
            if let old, let names = touched[origin] {
                let next = ZoneIndex(draft: draft, soa: old.soa, settings: settings)
                delta = Self.delta(origin: origin, from: old, to: next, names: names, now: now)
            }
            let serial: UInt32
            if let given = givenSerials[origin] {
                serial = given
            } else if let delta, delta.removed.isEmpty, delta.added.isEmpty, !settingsChanged.contains(origin) {
                continue  // rewrote what was there: the zone did not change
            } else {
                serial = previous.map { $0 &+ 1 } ?? zone.configuration.serial
            }
            serials[origin] = serial
            state.serials[origin] = serial
            let soa = zone.configuration.soa(serial: serial)
            zones[origin] = ZoneIndex(draft: draft, soa: soa, settings: settings)
            if var delta, let old, let previous {
                // Shaped as an IXFR difference sequence (RFC 1995): old SOA, removals, new SOA, additions.
                delta.fromSerial = previous
                delta.toSerial = serial
                delta.removed.insert(old.soa, at: 0)
                delta.added.insert(soa, at: 0)
                deltas.append(delta)
            }
        }
        var snapshot = baseSnapshot
        if !serials.isEmpty || !removedZones.isEmpty {
            snapshot = ZoneSnapshot(uncheckedZones: zones)
            snapshot.generation = baseSnapshot.generation &+ 1
        }
        if !replaying { state.position += 1 }
        return Frozen(state: state, snapshot: snapshot, change: ChangeSet(operations: operations, serials: serials, deltas: deltas))
    }

    /// What changed at `names` between two versions of a zone, SOA aside
    /// (`freeze` puts the old and new SOA first).
    static func delta(origin: DNSName, from old: ZoneIndex, to new: ZoneIndex, names: Set<DNSName>, now: Int64) -> ZoneDelta {
        var removed: [ResourceRecord] = []
        var added: [ResourceRecord] = []
        for name in names.sorted() {
            let before = old.records(at: name).filter { $0.type != .soa }
            let after = new.records(at: name).filter { $0.type != .soa }
            let kept = Set(before).intersection(after)
            removed += before.filter { !kept.contains($0) }
            added += after.filter { !kept.contains($0) }
        }
        return ZoneDelta(origin: origin, fromSerial: old.serial, toSerial: new.serial, removed: removed, added: added, createdAt: now)
    }
}

/// What the challenge values at one name take: how many, and the bytes of
/// their records in an answer (owner compressed to a pointer, then type,
/// class, TTL, length and the character-strings of 255 bytes at most).
struct ChallengeLoad {
    /// Bytes of answer records one name may hold: a DNS message is at most
    /// 65,535 bytes, and the header, question, OPT and TSIG need room too.
    static let maxAnswerBytes = 60_000

    var count: Int
    var bytes: Int

    init(_ values: [ChallengeRecord]) {
        count = values.count
        bytes = values.reduce(0) { sum, value in
            let length = value.value.utf8.count
            return sum + 12 + length + max(1, (length + 254) / 255)
        }
    }

    func exceeds(_ maxValues: Int) -> Bool { count > maxValues || bytes > Self.maxAnswerBytes }
    func grew(from before: ChallengeLoad) -> Bool { count > before.count || bytes > before.bytes }
}
