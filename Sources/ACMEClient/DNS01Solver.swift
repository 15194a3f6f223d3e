/// Publishes and removes dns-01 challenge values. ACMEClient knows nothing
/// of DNS servers: whoever runs it supplies one (cdnsd's writes to its own
/// store).
public protocol DNS01Solver: Sendable {
    /// Publishes `value` as a TXT record at `name` (`_acme-challenge.<domain>.`)
    /// and returns once the record is served. Several values may share a
    /// name (a wildcard and its apex).
    func present(name: String, value: String) async throws
    /// Removes that one value.
    func cleanup(name: String, value: String) async throws
}
