import DNSWire
import Foundation
import NIOCore

/// One-off UDP queries to a DNS server on this machine: how `cdnsd cert
/// issue` finds out whether a daemon is serving, and waits until it serves
/// a challenge value.
enum DNSProbe {
    /// The reply to one query, or nil on timeout or garbage.
    static func query(_ name: DNSName, type: RRType, server: SocketAddress, timeout: Double = 0.5) -> DNSMessage? {
        let family = server.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let id = UInt16.random(in: 0...UInt16.max)
        guard let bytes = try? DNSMessage(header: DNSHeader(id: id), questions: [Question(name: name, type: type)], edns: EDNS()).encode() else { return nil }
        let sent = server.withSockAddr { address, length in sendto(fd, bytes, bytes.count, 0, address, socklen_t(length)) }
        guard sent == bytes.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 4096)
        let received = recv(fd, &reply, reply.count, 0)
        guard received > 0, let message = try? DNSMessage(decoding: Array(reply[0..<received])), message.header.id == id else { return nil }
        return message
    }

    /// Waits until `server` answers `name` TXT with `value` among its values.
    static func waitForTXT(_ name: DNSName, value: String, server: SocketAddress, timeout: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let values = query(name, type: .txt, server: server)?.answers.compactMap { record -> String? in
                if case .txt(let txt) = record.data { txt.joinedText } else { nil }
            } ?? []
            if values.contains(value) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CocoaError(.coderReadCorrupt, userInfo: [NSLocalizedDescriptionKey: "\(server) did not serve \(name) TXT \(value) within \(Int(timeout)) s"])
    }
}
