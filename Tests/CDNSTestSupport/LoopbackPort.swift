import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports for servers the tests start (cdnsd, knotd, PostgreSQL).
public enum LoopbackPort {
    /// Ports already handed out in this test process, by any test target.
    private static let handedOut = Mutex<Set<UInt16>>([])

    /// A loopback port free for UDP and TCP, below the kernel's ephemeral
    /// range (32768-60999), so that no outgoing connection of a parallel
    /// test (curl, pebble, PostgreSQL clients) takes it between this check
    /// and the server binding it, and never the same port twice per process.
    public static func free() throws -> UInt16 {
        for _ in 0..<200 {
            let port = UInt16.random(in: 10_000...32_000)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_port = port.bigEndian
            target.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            let free = withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(udp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 && bind(tcp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            close(udp)
            close(tcp)
            if free { return port }
        }
        throw LoopbackPortError()
    }
}

/// No free loopback port in 200 tries.
public struct LoopbackPortError: Error, CustomStringConvertible {
    public var description: String { "no free loopback port" }
}
