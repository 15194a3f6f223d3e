import DNSWire
import ZoneStore

/// The changes one RFC 2136 UPDATE makes, worked out against the zone as
/// it is: challenge values to publish and remove, and RRsets of permanent
/// zone data to replace. Applying them is the caller's job.
public struct UpdatePlan: Sendable, Equatable {
    public struct ChallengeValue: Sendable, Hashable {
        public var name: DNSName
        public var value: String
    }

    /// Values the update adds (published again if present: the expiry restarts).
    public var addChallenges: [ChallengeValue] = []
    public var removeChallenges: [ChallengeValue] = []
    /// Permanent records: each RRset's new content (empty deletes it).
    public var replaceRRsets: [RRsetKey: [ResourceRecord]] = [:]

    public var isEmpty: Bool { addChallenges.isEmpty && removeChallenges.isEmpty && replaceRRsets.isEmpty }

    /// Every owner name the plan touches, for logs.
    public var names: [DNSName] {
        var seen: [DNSName] = []
        for name in addChallenges.map(\.name) + removeChallenges.map(\.name) + replaceRRsets.keys.map(\.name) where !seen.contains(name) {
            seen.append(name)
        }
        return seen
    }
}

/// An owner name and type.
public struct RRsetKey: Sendable, Hashable {
    public var name: DNSName
    public var type: RRType
}

/// RFC 2136 §3 applied to one UPDATE message: zone section (§3.1),
/// prerequisites (§3.2), the update section's prescan (§3.4.1), the key's
/// scope (§3.3), then each update in order (§3.4.2) on a working copy,
/// giving one `UpdatePlan` or the rcode that refuses the whole message.
///
/// It reads the zone from a `StoreView`: `UpdateHandler` runs it inside
/// the store's `write`, against the contents at commit time, so that the
/// prerequisites hold for exactly the state the changes are made to and no
/// other write (an UPDATE, the HTTP API, another replica) lands between.
public struct DynamicUpdate: Sendable {
    public let message: DNSMessage
    public let scope: UpdateScope

    public init(message: DNSMessage, scope: UpdateScope) {
        self.message = message
        self.scope = scope
    }

    /// Why an update is refused: the rcode and a reason for the log.
    public struct Refusal: Error, Sendable, Equatable {
        public var rcode: ResponseCode
        public var reason: String
    }

    /// The zone the zone section names, or the refusal (FORMERR, NOTAUTH).
    public func zone(in view: StoreView) -> Result<ZoneConfiguration, Refusal> {
        guard message.questions.count == 1, let zone = message.questions.first, zone.type == .soa else {
            return .failure(Refusal(rcode: .formErr, reason: "the zone section must hold one SOA question"))
        }
        guard zone.qClass == .in, let found = view.zone(containing: zone.name), found.origin == zone.name else {
            return .failure(Refusal(rcode: .notAuth, reason: "zone \(zone.name) \(zone.qClass) is not served here"))
        }
        return .success(found)
    }

    /// The plan, worked out against `view`.
    public func plan(in view: StoreView) -> Result<UpdatePlan, Refusal> {
        Planner(message: message, scope: scope, view: view).plan()
    }
}

/// One evaluation of an UPDATE against one view of the store.
struct Planner {
    let message: DNSMessage
    let scope: UpdateScope
    let view: StoreView

    /// Whether the configuration file defines the RRset: UPDATE leaves it alone.
    func configured(_ name: DNSName, _ type: RRType) -> Bool {
        view.storedRecords(at: name).contains { $0.fromConfiguration && $0.record.type == type }
    }

    /// Live challenge values at `name`.
    func challenges(_ name: DNSName) -> [String] { view.challenges(at: name).map(\.value) }

    func plan() -> Result<UpdatePlan, DynamicUpdate.Refusal> {
        typealias Refusal = DynamicUpdate.Refusal
        let zone: ZoneConfiguration
        switch DynamicUpdate(message: message, scope: scope).zone(in: view) {
        case .success(let found): zone = found
        case .failure(let refusal): return .failure(refusal)
        }
        let origin = zone.origin
        func inZone(_ name: DNSName) -> Bool { view.zone(containing: name)?.origin == origin }

        // §3.2 prerequisites, against the zone before any update.
        var valueSets: [RRsetKey: Set<RecordData>] = [:]
        var valueOrder: [RRsetKey] = []
        for record in message.answers {
            guard record.ttl == 0 else { return .failure(Refusal(rcode: .formErr, reason: "prerequisite with TTL \(record.ttl)")) }
            guard inZone(record.name) else { return .failure(Refusal(rcode: .notZone, reason: "prerequisite \(record.name) is outside \(origin)")) }
            let empty = record.data == .opaque(record.type, [])
            switch record.rrClass {
            case .any:
                guard empty else { return .failure(Refusal(rcode: .formErr, reason: "class ANY prerequisite with data")) }
                if record.type == .any {
                    guard nameInUse(record.name) else { return .failure(Refusal(rcode: .nxDomain, reason: "\(record.name) is not in use")) }
                } else {
                    guard rrset(record.name, record.type) != nil else { return .failure(Refusal(rcode: .nxRRset, reason: "no \(record.type) at \(record.name)")) }
                }
            case .none:
                guard empty else { return .failure(Refusal(rcode: .formErr, reason: "class NONE prerequisite with data")) }
                if record.type == .any {
                    guard !nameInUse(record.name) else { return .failure(Refusal(rcode: .yxDomain, reason: "\(record.name) is in use")) }
                } else {
                    guard rrset(record.name, record.type) == nil else { return .failure(Refusal(rcode: .yxRRset, reason: "\(record.type) at \(record.name) exists")) }
                }
            case .in:
                guard !record.type.isMetaType else { return .failure(Refusal(rcode: .formErr, reason: "prerequisite of type \(record.type)")) }
                let key = RRsetKey(name: record.name, type: record.type)
                if valueSets[key] == nil { valueOrder.append(key) }
                valueSets[key, default: []].insert(record.data)
            default:
                return .failure(Refusal(rcode: .formErr, reason: "prerequisite of class \(record.rrClass)"))
            }
        }
        for key in valueOrder {
            let present = Set((rrset(key.name, key.type) ?? []).map(\.data))
            guard present == valueSets[key] else {
                return .failure(Refusal(rcode: .nxRRset, reason: "\(key.type) at \(key.name) is not the RRset the prerequisite names"))
            }
        }

        // §3.4.1 prescan.
        for record in message.authority {
            guard inZone(record.name) else { return .failure(Refusal(rcode: .notZone, reason: "\(record.name) is outside \(origin)")) }
            let empty = record.data == .opaque(record.type, [])
            switch record.rrClass {
            case .in:
                guard !record.type.isMetaType, !DynamicUpdate.isMailQType(record.type) else {
                    return .failure(Refusal(rcode: .formErr, reason: "cannot add type \(record.type)"))
                }
            case .any:
                guard record.ttl == 0, empty, record.type != .axfr, record.type != .ixfr, !DynamicUpdate.isMailQType(record.type) else {
                    return .failure(Refusal(rcode: .formErr, reason: "malformed delete of \(record.type) at \(record.name)"))
                }
            case .none:
                guard record.ttl == 0, !record.type.isMetaType, !DynamicUpdate.isMailQType(record.type) else {
                    return .failure(Refusal(rcode: .formErr, reason: "malformed delete of one \(record.type) at \(record.name)"))
                }
            default:
                return .failure(Refusal(rcode: .formErr, reason: "update of class \(record.rrClass)"))
            }
        }

        // §3.3 the key's scope, for every update before any is applied.
        for record in message.authority {
            guard scope.allows(name: record.name, type: record.type, origin: origin) else {
                return .failure(Refusal(rcode: .refused, reason: "\(record.type) at \(record.name) is outside the key's scope"))
            }
            if !DynamicUpdate.isChallenge(record.name, record.type), record.type != .any, configured(record.name, record.type) {
                return .failure(Refusal(rcode: .refused, reason: "\(record.type) at \(record.name) comes from the configuration file"))
            }
            if DynamicUpdate.isChallenge(record.name, record.type), record.rrClass != .any {
                guard case .txt(let txt) = record.data, txt.strings.count == 1, let first = txt.strings.first,
                      Array(String(decoding: first, as: UTF8.self).utf8) == first else {
                    return .failure(Refusal(rcode: .refused, reason: "a challenge value is one TXT string of UTF-8 text"))
                }
            }
        }

        // §3.4.2 the updates in order, on a working copy.
        var values: [DNSName: [String]] = [:]
        var added: [UpdatePlan.ChallengeValue] = []
        var rrsets: [RRsetKey: [ResourceRecord]] = [:]
        func currentValues(_ name: DNSName) -> [String] { values[name] ?? challenges(name) }
        func currentRRset(_ key: RRsetKey) -> [ResourceRecord] { rrsets[key] ?? stored(key.name, key.type) }
        for record in message.authority {
            let name = record.name
            switch record.rrClass {
            case .in:
                if DynamicUpdate.isChallenge(name, record.type) {
                    guard case .txt(let txt) = record.data, let first = txt.strings.first else { continue }
                    // CNAME and other data never share a name (§3.4.2.2).
                    if !currentRRset(RRsetKey(name: name, type: .cname)).isEmpty { continue }
                    let value = String(decoding: first, as: UTF8.self)
                    var now = currentValues(name)
                    if !now.contains(value) { now.append(value) }
                    values[name] = now
                    added.removeAll { $0.name == name && $0.value == value }
                    added.append(.init(name: name, value: value))
                } else {
                    let key = RRsetKey(name: name, type: record.type)
                    // CNAME and other data never share a name: such adds are ignored (§3.4.2.2).
                    if record.type == .cname ? hasOtherData(than: .cname, at: name, pending: rrsets, values: values) : !currentRRset(RRsetKey(name: name, type: .cname)).isEmpty {
                        continue
                    }
                    var set = currentRRset(key)
                    if record.type == .cname { set.removeAll() }
                    set.removeAll { $0.data == record.data }
                    set.append(ResourceRecord(name: name, ttl: record.ttl, data: record.data))
                    rrsets[key] = set.map { ResourceRecord(name: $0.name, ttl: record.ttl, data: $0.data) }
                }
            case .any:
                let types: [RRType] = record.type == .any ? Array(scope.types) : [record.type]
                for type in types {
                    if DynamicUpdate.isChallenge(name, type) {
                        values[name] = []
                        added.removeAll { $0.name == name }
                    } else if !DynamicUpdate.isChallengeOnlyScope(scope), type != .soa, !(type == .ns && name == origin),
                              !configured(name, type) {
                        rrsets[RRsetKey(name: name, type: type)] = []
                    }
                }
            case .none:
                if DynamicUpdate.isChallenge(name, record.type) {
                    guard case .txt(let txt) = record.data, txt.strings.count == 1, let first = txt.strings.first else { continue }
                    let value = String(decoding: first, as: UTF8.self)
                    values[name] = currentValues(name).filter { $0 != value }
                    added.removeAll { $0.name == name && $0.value == value }
                } else {
                    let key = RRsetKey(name: name, type: record.type)
                    rrsets[key] = currentRRset(key).filter { $0.data != record.data }
                }
            default:
                continue
            }
        }

        var plan = UpdatePlan()
        plan.addChallenges = added
        for (name, now) in values.sorted(by: { $0.key < $1.key }) {
            for value in challenges(name) where !now.contains(value) {
                plan.removeChallenges.append(.init(name: name, value: value))
            }
        }
        for (key, records) in rrsets {
            let before = stored(key.name, key.type)
            if Set(before.map(\.data)) != Set(records.map(\.data)) || before.first?.ttl != records.first?.ttl {
                plan.replaceRRsets[key] = records
            }
        }
        return .success(plan)
    }

}

extension DynamicUpdate {
    /// Whether an update of this name and type is a challenge value.
    static func isChallenge(_ name: DNSName, _ type: RRType) -> Bool { type == .txt && name.isChallengeName }

    static func isChallengeOnlyScope(_ scope: UpdateScope) -> Bool { scope.challengeNamesOnly }

    /// MAILA and MAILB, which only questions carry.
    static func isMailQType(_ type: RRType) -> Bool { type.rawValue == 253 || type.rawValue == 254 }
}

extension Planner {
    /// The RRset served at exactly `name` (no wildcard, no CNAME chasing), if any.
    func rrset(_ name: DNSName, _ type: RRType) -> [ResourceRecord]? {
        let records = view.servedRecords(at: name).filter { $0.type == type }
        return records.isEmpty ? nil : records
    }

    /// The records of this type stored at `name`: what an update replaces
    /// (challenge values and the apex NS are kept apart).
    func stored(_ name: DNSName, _ type: RRType) -> [ResourceRecord] {
        view.storedRecords(at: name).filter { $0.record.type == type }.map(\.record)
    }

    /// RFC 2136's "name is in use": at least one RR at exactly `name`.
    func nameInUse(_ name: DNSName) -> Bool { !view.servedRecords(at: name).isEmpty }

    /// Whether `name` holds data of a type other than `type`, counting the updates so far.
    func hasOtherData(than type: RRType, at name: DNSName, pending: [RRsetKey: [ResourceRecord]], values: [DNSName: [String]]) -> Bool {
        if pending.contains(where: { $0.key.name == name && $0.key.type != type && !$0.value.isEmpty }) { return true }
        if !(values[name] ?? challenges(name)).isEmpty { return true }
        if view.zone(containing: name)?.origin == name { return true }
        return view.storedRecords(at: name).contains { stored in
            guard stored.record.type != type else { return false }
            let deleted = pending[RRsetKey(name: name, type: stored.record.type)]?.isEmpty ?? false
            return stored.fromConfiguration || !deleted
        }
    }
}

extension UpdatePlan {
    /// The store operations that make the plan true in `view`: challenge
    /// values written (their expiry restarting) or deleted, and runtime
    /// RRsets replaced; configuration records stay as they are.
    public func operations(in view: StoreView, owner: String, now: Int64, lifetime: Int64) -> [StoreOperation] {
        var operations: [StoreOperation] = []
        for remove in removeChallenges {
            for challenge in view.challenges(at: remove.name) where challenge.value == remove.value {
                operations.append(.delete(.challenge(challenge)))
            }
        }
        for add in addChallenges {
            operations.append(.put(.challenge(ChallengeRecord(name: add.name, value: add.value, owner: owner, createdAt: now, expiresAt: now + lifetime))))
        }
        for (key, records) in replaceRRsets.sorted(by: { ($0.key.name, $0.key.type.rawValue) < ($1.key.name, $1.key.type.rawValue) }) {
            for old in view.storedRecords(at: key.name) where old.record.type == key.type && !old.fromConfiguration {
                operations.append(.delete(.record(old.record, fromConfiguration: false)))
            }
            for record in records { operations.append(.put(.record(record, fromConfiguration: false))) }
        }
        return operations
    }
}
