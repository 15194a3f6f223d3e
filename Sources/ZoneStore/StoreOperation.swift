import DNSWire

/// One thing a store keeps, as one row of its tables.
public enum StoredItem: Sendable, Hashable {
    /// A zone record; `fromConfiguration` for the records a configuration
    /// file seeds (they are replaced when the file changes), false for
    /// records added at runtime.
    case record(ResourceRecord, fromConfiguration: Bool)
    case challenge(ChallengeRecord)
    case account(Account)
    case credential(APICredential)
    case tsigKey(TSIGKey)
    /// A zone's settings (its `records` are not part of the row).
    case zone(ZoneConfiguration, fromConfiguration: Bool)
}

extension StoredItem {
    /// An account, a credential or a key: a row of one of
    /// `StoreSchema.directoryTables`, which no zone's contents depend on.
    var isDirectory: Bool {
        let table = StoreSchema.table(of: self).name
        return StoreSchema.directoryTables.contains { $0.name == table }
    }
}

/// One durable change to one row: write it (insert or replace by its key),
/// or delete the row with its key.
public enum StoreOperation: Sendable, Hashable {
    case put(StoredItem)
    case delete(StoredItem)

    /// The row written or deleted.
    var item: StoredItem {
        switch self {
        case .put(let item), .delete(let item): item
        }
    }
}

/// Everything a backend keeps, as loaded at start or after missed changes.
public struct StoredState: Sendable {
    public var items: [StoredItem] = []
    /// The last serial published per zone apex.
    public var serials: [DNSName: UInt32] = [:]
    /// The position of the newest change in the change log.
    public var position: Int64 = 0

    public init(items: [StoredItem] = [], serials: [DNSName: UInt32] = [:], position: Int64 = 0) {
        self.items = items
        self.serials = serials
        self.position = position
    }
}

/// What one group commit changes, written by a backend in one transaction:
/// the rows, the zone serials it raised, the zones' differences for IXFR,
/// and an entry in the change log that other replicas follow.
public struct ChangeSet: Sendable {
    public var operations: [StoreOperation]
    /// New serials of the zones the commit changed.
    public var serials: [DNSName: UInt32]
    /// Per changed zone, what it served before and after (RFC 1995 journal).
    public var deltas: [ZoneDelta]

    public init(operations: [StoreOperation], serials: [DNSName: UInt32], deltas: [ZoneDelta]) {
        self.operations = operations
        self.serials = serials
        self.deltas = deltas
    }

    /// Change sets larger than this are logged as "reload everything":
    /// replicas load the whole state rather than a huge log entry.
    public static let largestLogged = 5_000

    /// How the change log carries this change set.
    public var logged: LoggedChange.Body {
        operations.count > Self.largestLogged ? .reload : .operations(operations, serials: serials)
    }
}

/// One entry of the change log: what replicas apply to follow a writer.
public struct LoggedChange: Sendable {
    public enum Body: Sendable {
        case operations([StoreOperation], serials: [DNSName: UInt32])
        /// Too large to log row by row: load the whole state again.
        case reload
    }

    /// Increases by one per commit, across every replica.
    public var position: Int64
    public var body: Body

    public init(position: Int64, body: Body) {
        self.position = position
        self.body = body
    }
}

/// How one zone changed between two serials, in served records: the
/// journal an IXFR answer (RFC 1995) is made from. As in IXFR, `removed`
/// starts with the old SOA and `added` with the new one.
public struct ZoneDelta: Sendable, Hashable {
    public var origin: DNSName
    public var fromSerial: UInt32
    public var toSerial: UInt32
    public var removed: [ResourceRecord]
    public var added: [ResourceRecord]
    /// Unix seconds, for trimming by age.
    public var createdAt: Int64

    public init(origin: DNSName, fromSerial: UInt32, toSerial: UInt32, removed: [ResourceRecord], added: [ResourceRecord], createdAt: Int64) {
        self.origin = origin
        self.fromSerial = fromSerial
        self.toSerial = toSerial
        self.removed = removed
        self.added = added
        self.createdAt = createdAt
    }
}

/// How much history a backend keeps.
public struct StoreRetention: Sendable, Hashable {
    /// Change-log entries kept for replicas that fell behind; one further
    /// behind loads everything again.
    public var changes: Int
    /// IXFR journal entries kept per zone; a secondary further behind gets AXFR.
    public var journalPerZone: Int
    /// Journal entries older than this many seconds are dropped.
    public var journalMaxAge: Int64

    public init(changes: Int = 10_000, journalPerZone: Int = 1_000, journalMaxAge: Int64 = 7 * 86_400) {
        self.changes = changes
        self.journalPerZone = journalPerZone
        self.journalMaxAge = journalMaxAge
    }
}
