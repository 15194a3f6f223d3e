import DNSWire
import ZoneStore

/// What one TSIG key may change through UPDATE, from its stored `TSIGKey`.
///
/// By default TXT at `_acme-challenge.` names that the key's patterns
/// allow (the pattern language of API credentials: `*.svc.dev`,
/// `svc.dev`, `*`). A key widened with `challengeNamesOnly = false` may
/// change the allowed names themselves, with the types it lists. No key
/// ever changes a SOA or the NS records at a zone apex.
public struct UpdateScope: Sendable {
    public let patterns: [NamePattern]
    public let sources: [IPNetwork]
    public let types: Set<RRType>
    public let challengeNamesOnly: Bool
    /// Keys for zone transfers only never update.
    public let transferOnly: Bool

    public init(_ key: TSIGKey) {
        patterns = key.allowedNames.compactMap { NamePattern($0) }
        sources = key.allowedSources.compactMap { IPNetwork($0) }
        types = Set(key.allowedTypes)
        challengeNamesOnly = key.challengeNamesOnly
        transferOnly = key.transferOnly
    }

    /// Whether a signed message from `source` is accepted at all.
    public func allows(source: IPAddress?) -> Bool {
        guard !sources.isEmpty else { return true }
        guard let source else { return false }
        return sources.contains(source)
    }

    /// Whether an update record of `type` (ANY for "every RRset") at
    /// `name` in the zone `origin` is within this key's scope.
    public func allows(name: DNSName, type: RRType, origin: DNSName) -> Bool {
        guard !transferOnly else { return false }
        if type == .soa || (type == .ns && name == origin) { return false }
        guard type == .any || types.contains(type) else { return false }
        if challengeNamesOnly {
            guard name.isChallengeName, type == .txt || type == .any else { return false }
        }
        return patterns.contains { $0.allows(challengeName: name) }
    }
}

extension DNSName {
    /// Whether the first label is `_acme-challenge` (any case).
    public var isChallengeName: Bool { removingChallengeLabel() != self }
}
