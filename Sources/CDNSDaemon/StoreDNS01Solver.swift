import ACMEClient
import DNSWire
import Foundation
import ZoneStore

/// Solves dns-01 through cdnsd's own store: a challenge value written here
/// is served by this process's DNS listener once `present` returns. When
/// another process serves DNS from the same data (`cdnsd cert issue` beside a
/// running daemon), `served` waits until that server answers with it.
struct StoreDNS01Solver: DNS01Solver {
    let store: ZoneRecordStore
    let lifetime: Int64
    /// Checks that a value is on the wire; nil when this process serves DNS itself.
    var served: (@Sendable (DNSName, String) async throws -> Void)? = nil

    func present(name: String, value: String) async throws {
        let owner = try DNSName(name)
        let now = Int64(Date().timeIntervalSince1970)
        try await store.addChallenge(ChallengeRecord(name: owner, value: value, owner: "acme:cdnsd", createdAt: now, expiresAt: now + lifetime))
        try await served?(owner, value)
    }

    func cleanup(name: String, value: String) async throws {
        try await store.removeChallenge(name: try DNSName(name), value: value)
    }
}
