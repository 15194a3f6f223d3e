import NIOCore
import ZoneStore

extension IPAddress {
    /// The address of a socket peer.
    public init?(_ address: SocketAddress) {
        guard let text = address.ipAddress else { return nil }
        self.init(text)
    }
}
