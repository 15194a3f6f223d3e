import DNSWire
import HashTreeCollections

/// Everything a store holds, indexed by what it is looked up by: zones by
/// apex, records and challenge values by owner, accounts by username and
/// subdomain, credentials and keys by name. Hash tries share structure
/// between versions, so a copy is free and a change costs O(log n).
struct StoreState: Sendable {
    struct Zone: Sendable, Hashable {
        var configuration: ZoneConfiguration
        var fromConfiguration: Bool
    }

    struct Record: Sendable, Hashable {
        var record: ResourceRecord
        var fromConfiguration: Bool
    }

    /// What applying one operation changed.
    enum Touch {
        /// Records at this owner name.
        case name(DNSName)
        /// A zone's settings (`existed`: it was there before).
        case zone(DNSName, existed: Bool)
        /// Accounts, credentials or keys.
        case directory
    }

    var zones: [DNSName: Zone] = [:]
    var records: TreeDictionary<DNSName, [Record]> = [:]
    var challenges: TreeDictionary<DNSName, [ChallengeRecord]> = [:]
    var accounts: TreeDictionary<String, Account> = [:]
    /// Lowercased subdomain → username.
    var subdomains: TreeDictionary<String, String> = [:]
    var credentials: TreeDictionary<String, APICredential> = [:]
    var tsigKeys: TreeDictionary<DNSName, TSIGKey> = [:]
    var serials: [DNSName: UInt32] = [:]
    /// The change-log position this state includes.
    var position: Int64 = 0

    init() {}

    init(_ stored: StoredState) {
        for item in stored.items { _ = apply(.put(item)) }
        serials = stored.serials
        position = stored.position
    }

    /// Applies one row change; deleting a missing row changes nothing.
    mutating func apply(_ operation: StoreOperation) -> Touch {
        switch operation {
        case .put(.record(let record, let fromConfiguration)):
            var list = records[record.name] ?? []
            list.removeAll { $0.record.type == record.type && $0.record.data == record.data }
            list.append(Record(record: record, fromConfiguration: fromConfiguration))
            records[record.name] = list
            return .name(record.name)
        case .delete(.record(let record, _)):
            if var list = records[record.name] {
                list.removeAll { $0.record.type == record.type && $0.record.data == record.data }
                records[record.name] = list.isEmpty ? nil : list
            }
            return .name(record.name)
        case .put(.challenge(let challenge)):
            var list = challenges[challenge.name] ?? []
            list.removeAll { $0.value == challenge.value }
            list.append(challenge)
            challenges[challenge.name] = list
            return .name(challenge.name)
        case .delete(.challenge(let challenge)):
            if var list = challenges[challenge.name] {
                list.removeAll { $0.value == challenge.value }
                challenges[challenge.name] = list.isEmpty ? nil : list
            }
            return .name(challenge.name)
        case .put(.account(let account)):
            if let old = accounts[account.username] { subdomains[old.subdomain.lowercased()] = nil }
            accounts[account.username] = account
            subdomains[account.subdomain.lowercased()] = account.username
            return .directory
        case .delete(.account(let account)):
            if let old = accounts.removeValue(forKey: account.username) { subdomains[old.subdomain.lowercased()] = nil }
            return .directory
        case .put(.credential(let credential)):
            credentials[credential.name] = credential
            return .directory
        case .delete(.credential(let credential)):
            credentials[credential.name] = nil
            return .directory
        case .put(.tsigKey(let key)):
            tsigKeys[key.name] = key
            return .directory
        case .delete(.tsigKey(let key)):
            tsigKeys[key.name] = nil
            return .directory
        case .put(.zone(let configuration, let fromConfiguration)):
            var settings = configuration
            settings.records = []
            let existed = zones[settings.origin] != nil
            zones[settings.origin] = Zone(configuration: settings, fromConfiguration: fromConfiguration)
            return .zone(settings.origin, existed: existed)
        case .delete(.zone(let configuration, _)):
            let existed = zones.removeValue(forKey: configuration.origin) != nil
            return .zone(configuration.origin, existed: existed)
        }
    }

    /// The most specific zone containing `name`.
    func zone(containing name: DNSName) -> Zone? {
        var candidate: DNSName? = name
        while let current = candidate {
            if let zone = zones[current] { return zone }
            candidate = current.parent
        }
        return nil
    }

    /// What the index holds at `name` in `zone` (the SOA aside): apex NS
    /// from the zone settings, stored records, challenge values as TXT.
    func indexRecords(at name: DNSName, in zone: Zone, challengeTTL: UInt32) -> (records: [ResourceRecord], challengeOnly: Bool) {
        var result: [ResourceRecord] = []
        if name == zone.configuration.origin {
            result = zone.configuration.nameservers.map { ResourceRecord(name: name, ttl: zone.configuration.ttl, data: .ns($0)) }
        }
        if let stored = records[name] { result += stored.map(\.record) }
        let storedCount = result.count
        for challenge in challenges[name] ?? [] {
            result.append(ResourceRecord(name: challenge.name, ttl: challengeTTL, data: .txt(TXT(text: challenge.value))))
        }
        return (result, storedCount == 0 && !result.isEmpty)
    }

    /// Every owner name with records or challenge values inside `origin`
    /// and in no deeper zone.
    func names(in origin: DNSName) -> Set<DNSName> {
        var names: Set<DNSName> = [origin]
        for name in records.keys where zone(containing: name)?.configuration.origin == origin { names.insert(name) }
        for name in challenges.keys where zone(containing: name)?.configuration.origin == origin { names.insert(name) }
        return names
    }
}

/// A read-only view of a store's contents at one moment: what write plans
/// are made against, and what readers of accounts, credentials, keys and
/// records see. Taking one costs nothing; it never changes.
public struct StoreView: Sendable {
    let state: StoreState
    let challengeTTL: UInt32

    /// The zones served, with whether the configuration file defines each.
    public var zones: [(configuration: ZoneConfiguration, fromConfiguration: Bool)] {
        state.zones.values.sorted { $0.configuration.origin < $1.configuration.origin }.map { ($0.configuration, $0.fromConfiguration) }
    }

    /// The settings of the most specific zone containing `name`.
    public func zone(containing name: DNSName) -> ZoneConfiguration? {
        state.zone(containing: name)?.configuration
    }

    /// The zone's current serial.
    public func serial(of origin: DNSName) -> UInt32? { state.serials[origin] }

    /// Records stored at `name` (not challenge values, not the SOA or apex NS).
    public func storedRecords(at name: DNSName) -> [(record: ResourceRecord, fromConfiguration: Bool)] {
        (state.records[name] ?? []).map { ($0.record, $0.fromConfiguration) }
    }

    /// Every stored record inside `origin` (and in no deeper zone), by owner.
    public func storedRecords(in origin: DNSName) -> [(record: ResourceRecord, fromConfiguration: Bool)] {
        var result: [(record: ResourceRecord, fromConfiguration: Bool)] = []
        for (name, list) in state.records where state.zone(containing: name)?.configuration.origin == origin {
            result += list.map { ($0.record, $0.fromConfiguration) }
        }
        return result.sorted { ($0.record.name, $0.record.type.rawValue) < ($1.record.name, $1.record.type.rawValue) }
    }

    /// Everything served at `name`: the SOA and apex NS at the apex, stored
    /// records and challenge values as TXT. What RFC 2136 prerequisites test.
    public func servedRecords(at name: DNSName) -> [ResourceRecord] {
        guard let zone = state.zone(containing: name) else { return [] }
        var records = state.indexRecords(at: name, in: zone, challengeTTL: challengeTTL).records
        if name == zone.configuration.origin {
            records.insert(zone.configuration.soa(serial: state.serials[name] ?? zone.configuration.serial), at: 0)
        }
        return records
    }

    public func challenges(at name: DNSName) -> [ChallengeRecord] { state.challenges[name] ?? [] }

    /// Every challenge value, by name.
    public var challenges: [ChallengeRecord] { state.challenges.values.flatMap { $0 } }
    /// How many records are stored (configuration seeds and runtime records).
    public var recordCount: Int { state.records.values.reduce(0) { $0 + $1.count } }

    public func account(username: String) -> Account? { state.accounts[username] }

    /// The account that owns `subdomain` (any case).
    public func account(subdomain: String) -> Account? {
        state.subdomains[subdomain.lowercased()].flatMap { state.accounts[$0] }
    }

    public var accounts: [Account] { state.accounts.values.sorted { $0.username < $1.username } }

    public func credential(name: String) -> APICredential? { state.credentials[name] }

    public var credentials: [APICredential] { state.credentials.values.sorted { $0.name < $1.name } }

    public func tsigKey(name: DNSName) -> TSIGKey? { state.tsigKeys[name] }

    public var tsigKeys: [TSIGKey] { state.tsigKeys.values.sorted { $0.name < $1.name } }
}
