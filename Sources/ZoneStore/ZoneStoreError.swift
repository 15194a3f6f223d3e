import DNSWire

/// The one error type of ZoneStore: what is wrong with a zone or a change.
public struct ZoneStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Backing: Hashable, Sendable {
            case outOfZone, noSuchZone, duplicateZone, cnameConflict, badRecord, storage, conflict, limitReached
        }
        let backing: Backing

        /// A record's owner is not inside the zone it was given for.
        public static let outOfZone = Code(backing: .outOfZone)
        /// No zone we serve contains the name.
        public static let noSuchZone = Code(backing: .noSuchZone)
        /// Two zones with the same apex.
        public static let duplicateZone = Code(backing: .duplicateZone)
        /// A CNAME next to other data at one name (RFC 1034 §3.6.2).
        public static let cnameConflict = Code(backing: .cnameConflict)
        /// A record that cannot be served (OPT, TSIG, meta types, SOA below the apex).
        public static let badRecord = Code(backing: .badRecord)
        /// The backend could not read or write (disk, database, schema).
        public static let storage = Code(backing: .storage)
        /// The item clashes with one that exists (a taken username or subdomain).
        public static let conflict = Code(backing: .conflict)
        /// A write would pass a bound the store keeps (challenge values at one name).
        public static let limitReached = Code(backing: .limitReached)

        public var description: String {
            switch backing {
            case .outOfZone: "outOfZone"
            case .noSuchZone: "noSuchZone"
            case .duplicateZone: "duplicateZone"
            case .cnameConflict: "cnameConflict"
            case .badRecord: "badRecord"
            case .storage: "storage"
            case .conflict: "conflict"
            case .limitReached: "limitReached"
            }
        }
    }

    public var code: Code
    /// The name the problem is about.
    public var name: DNSName?
    public var detail: String

    public init(_ code: Code, name: DNSName? = nil, _ detail: String) {
        self.code = code
        self.name = name
        self.detail = detail
    }

    public var description: String {
        "ZoneStoreError.\(code)\(name.map { " at \($0)" } ?? ""): \(detail)"
    }
}
