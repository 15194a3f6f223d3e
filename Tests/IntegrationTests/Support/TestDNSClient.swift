import CDNSTestSupport
import DNSWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking DNS client over loopback sockets, for tests only:
/// exact bytes in, exact bytes out, always to an explicit server.
enum TestDNSClient {
    static func address(_ host: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    static func setTimeout(_ socket: Int32, _ seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends one datagram and returns the first reply, or throws on timeout.
    static func udp(_ query: [UInt8], port: UInt16, host: String = "127.0.0.1", timeout: Double = 2) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket() failed") }
        defer { close(fd) }
        setTimeout(fd, timeout)
        var target = address(host, port)
        let sent = withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, query, query.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard sent == query.count else { throw TestSetupError("sendto failed") }
        var reply = [UInt8](repeating: 0, count: 65535)
        let received = recv(fd, &reply, reply.count, 0)
        guard received > 0 else { throw TestSetupError("no UDP reply from \(host):\(port) within \(timeout)s") }
        return Array(reply[0..<received])
    }

    /// Sends each query on one TCP connection, all at once, and returns the replies in order.
    static func tcp(_ queries: [[UInt8]], port: UInt16, host: String = "127.0.0.1") throws -> [[UInt8]] {
        let connection = try TCPConnection(port: port, host: host)
        try connection.send(queries)
        return try queries.map { _ in try connection.readReply() }
    }

    /// One TCP connection kept open across queries.
    final class TCPConnection {
        let fd: Int32

        init(port: UInt16, host: String = "127.0.0.1") throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw TestSetupError("socket() failed") }
            setTimeout(fd, 3)
            var target = address(host, port)
            let connected = withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(fd)
                throw TestSetupError("cannot connect to \(host):\(port)")
            }
        }

        deinit { close(fd) }

        /// Writes each query with its 2-byte length prefix.
        func send(_ queries: [[UInt8]]) throws {
            var stream: [UInt8] = []
            for query in queries { stream += [UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query }
            guard Glibc.send(fd, stream, stream.count, Int32(MSG_NOSIGNAL)) == stream.count else { throw TestSetupError("send failed") }
        }

        func readReply() throws -> [UInt8] {
            let prefix = try readExactly(fd, 2)
            return try readExactly(fd, Int(prefix[0]) << 8 | Int(prefix[1]))
        }

        func ask(_ query: [UInt8]) throws -> [UInt8] {
            try send([query])
            return try readReply()
        }

        /// True when the server has closed its side (a read returns end of stream).
        func isClosedByPeer() -> Bool {
            var byte: UInt8 = 0
            return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0
        }
    }

    static func tcp(_ query: [UInt8], port: UInt16, host: String = "127.0.0.1") throws -> [UInt8] {
        try tcp([query], port: port, host: host)[0]
    }

    static func readExactly(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(count, 1))
        while result.count < count {
            let received = recv(fd, &chunk, count - result.count, 0)
            guard received > 0 else { throw TestSetupError("TCP stream ended after \(result.count) of \(count) bytes") }
            result += chunk[0..<received]
        }
        return result
    }

    /// The TXT values served at `name` on `port` over UDP, with EDNS (ten
    /// challenge values outgrow 512 bytes).
    static func txtValues(_ name: DNSName, port: UInt16) throws -> [String] {
        let query = try DNSMessage(header: DNSHeader(id: 3), questions: [Question(name: name, type: .txt)], edns: EDNS()).encode()
        let reply = try DNSMessage(decoding: udp(query, port: port))
        return reply.answers.compactMap { record in if case .txt(let txt) = record.data { txt.joinedText } else { nil } }
    }

    /// A loopback port free for UDP and TCP (`LoopbackPort.free()`).
    static func freePort() throws -> UInt16 { try LoopbackPort.free() }

    /// Waits until a server on `port` answers an SOA query for `zone` over UDP and TCP.
    static func waitUntilServing(port: UInt16, zone: DNSName, process: ManagedProcess? = nil, timeout: Double = 20) throws {
        let query = try DNSMessage(header: DNSHeader(id: 1), questions: [Question(name: zone, type: .soa)]).encode()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let process, !process.isRunning {
                throw TestSetupError("\(process.name) exited early:\n\(process.output)")
            }
            if let reply = try? udp(query, port: port, timeout: 0.2), (try? DNSMessage(decoding: reply))?.answers.isEmpty == false,
               (try? tcp(query, port: port)) != nil {
                return
            }
            usleep(50_000)
        }
        throw TestSetupError("nothing answered on 127.0.0.1:\(port) within \(timeout)s\n\(process?.output ?? "")")
    }
}
