import DNSWire

/// A name a credential may publish challenges for: `team.svc.dev` (that
/// name only), `*.team.svc.dev` (every name below it and the wildcard
/// itself, whose challenge lives at `_acme-challenge.team.svc.dev`), or
/// `*` (every name in our zones).
public struct NamePattern: Sendable, Hashable, CustomStringConvertible {
    public let base: DNSName?
    public let includesBelow: Bool

    /// Parses a pattern; nil when it is not a name, `*.NAME` or `*`.
    public init?(_ text: String) {
        if text == "*" {
            base = nil
            includesBelow = true
            return
        }
        let wildcard = text.hasPrefix("*.")
        guard let name = try? DNSName(wildcard ? String(text.dropFirst(2)) : text), !name.isRoot else { return nil }
        base = name
        includesBelow = wildcard
    }

    /// Whether a challenge at `fqdn` belongs to a name this pattern allows.
    /// The leading `_acme-challenge` label is ignored, so the pattern
    /// speaks of the certificate's names.
    public func allows(challengeName fqdn: DNSName) -> Bool {
        guard let base else { return true }
        let name = fqdn.removingChallengeLabel()
        if name == base { return true }
        return includesBelow && name.isSubdomain(of: base)
    }

    public var description: String {
        guard let base else { return "*" }
        return includesBelow ? "*.\(base.presentationWithoutDot)" : base.presentationWithoutDot
    }
}

extension DNSName {
    private static let challengeLabel = Array("_acme-challenge".utf8)

    /// Whether the first label is `_acme-challenge` (any case).
    public var isChallengeName: Bool { hasFirstLabel(Self.challengeLabel) }

    /// Whether any label is `_acme-challenge`: the name is a challenge name
    /// or below one.
    public var containsChallengeLabel: Bool { containsLabel(Self.challengeLabel) }

    /// The certificate name behind a challenge name: without `_acme-challenge.`.
    public func removingChallengeLabel() -> DNSName {
        isChallengeName ? droppingFirstLabels(1) : self
    }
}
