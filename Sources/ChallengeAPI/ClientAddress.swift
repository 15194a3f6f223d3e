import ZoneStore
import HTTPTypes

/// Finds the client behind a request: the socket peer, unless that peer is
/// a trusted proxy, in which case X-Forwarded-For is read from the right,
/// skipping further trusted proxies. An untrusted peer's X-Forwarded-For
/// is ignored, so it cannot claim to come from an allowed network.
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [IPNetwork]

    public init(trustedProxies: [IPNetwork]) {
        self.trustedProxies = trustedProxies
    }

    /// The client's address, or an error when a trusted proxy sent an
    /// X-Forwarded-For that does not parse.
    public func client(peer: IPAddress, headers: HTTPFields) throws(APIError) -> IPAddress {
        guard trustedProxies.contains(peer) else { return peer }
        let hops = headers[values: .xForwardedFor].flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces }
        var client = peer
        for hop in hops.reversed() {
            guard trustedProxies.contains(client) else { break }
            guard let address = IPAddress(hop) else {
                throw APIError(.badRequest, "bad_forwarded_for", detail: "X-Forwarded-For entry \"\(hop)\" from trusted proxy \(client) is not an address")
            }
            client = address
        }
        return client
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let xAPIUser = HTTPField.Name("X-Api-User")!
    static let xAPIKey = HTTPField.Name("X-Api-Key")!
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}
