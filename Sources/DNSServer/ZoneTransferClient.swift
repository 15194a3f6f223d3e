import DNSWire
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an AXFR in failed.
public struct ZoneTransferClientError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// AXFR in (RFC 5936) over TCP from another primary (BIND, Knot, NSD or
/// cdnsd), for `cdnsd zone import --axfr`: every message read until the
/// closing SOA, each one's TSIG verified when the request was signed
/// (RFC 8945 §5.3.1: the first against the request's MAC, every later one
/// against the MAC before it; unsigned messages in between are refused).
public enum ZoneTransferClient {
    /// The zone's records, the SOA first and not repeated at the end.
    public static func axfr(zone: DNSName, from address: SocketAddress, credential: TSIGCredential?, timeoutSeconds: Int = 30,
                            now: UInt64 = UInt64(time(nil))) throws(ZoneTransferClientError) -> [ResourceRecord] {
        let records = try transfer(zone: zone, type: .axfr, from: address, credential: credential, timeoutSeconds: timeoutSeconds, now: now)
        return Array(records.dropLast())
    }

    /// Every record of an AXFR or IXFR answer as sent, the closing SOA
    /// included. For IXFR, `clientSOA` goes in the authority section
    /// (RFC 1995 §3); the answer ends with a lone SOA (current), the closing
    /// SOA of an AXFR-style answer, or the new SOA where the next old SOA of
    /// a difference sequence would be.
    public static func transfer(zone: DNSName, type: RRType, clientSOA: ResourceRecord? = nil, from address: SocketAddress, credential: TSIGCredential?,
                                timeoutSeconds: Int = 30, now: UInt64 = UInt64(time(nil))) throws(ZoneTransferClientError) -> [ResourceRecord] {
        let id = UInt16.random(in: 0...UInt16.max)
        guard var query = try? DNSMessage(header: DNSHeader(id: id), questions: [Question(name: zone, type: type)], authority: clientSOA.map { [$0] } ?? []).encode() else {
            throw ZoneTransferClientError("cannot encode the \(type) query")
        }
        var priorMAC: [UInt8] = []
        if let credential {
            let signed = TSIGSigner(credential: credential).sign(request: query, time: now)
            query = signed.message
            priorMAC = signed.mac
        }
        let connection = try Connection(address, timeoutSeconds: timeoutSeconds)
        defer { connection.close() }
        try connection.send(frame: query)

        var records: [ResourceRecord] = []
        var newSerial: UInt32 = 0
        var incremental: Bool? = nil
        // In a difference sequence: whether the next SOA starts a change (old SOA) or its additions (new SOA).
        var expectOldSOA = true
        var index = 0
        while true {
            let bytes = try connection.receiveFrame()
            guard let message = try? DNSMessage(decoding: bytes) else { throw ZoneTransferClientError("message \(index + 1) does not decode") }
            guard message.header.id == id, message.header.flags.contains(.response) else { throw ZoneTransferClientError("message \(index + 1) answers another query") }
            guard message.header.rcode == .noError else {
                throw ZoneTransferClientError("the server answered \(message.header.rcode)\(index == 0 ? " (not allowed to transfer, or not its zone?)" : "")")
            }
            if let credential {
                switch TSIGVerifier.verifyResponse(bytes, credential: credential, requestMAC: priorMAC, timersOnly: index > 0) {
                case .success(let record):
                    guard record.error == .noError else { throw ZoneTransferClientError("the server answered TSIG error \(record.error)") }
                    priorMAC = record.mac
                case .failure(let problem):
                    throw ZoneTransferClientError("message \(index + 1): \(problem.reason)")
                }
            }
            for record in message.answers {
                let soaSerial: UInt32? = if record.type == .soa, record.name == zone, case .soa(let soa) = record.data { soa.serial } else { nil }
                if records.isEmpty {
                    guard let soaSerial else { throw ZoneTransferClientError("the transfer does not start with the SOA of \(zone)") }
                    newSerial = soaSerial
                    records.append(record)
                    continue
                }
                records.append(record)
                if incremental == nil { incremental = type == .ixfr && soaSerial != nil && records.count == 2 && soaSerial != newSerial }
                if incremental == true {
                    guard let soaSerial else { continue }
                    if expectOldSOA && soaSerial == newSerial { return records }
                    expectOldSOA.toggle()
                } else if let soaSerial {
                    guard soaSerial == newSerial, record.data == records[0].data else {
                        throw ZoneTransferClientError("the closing SOA differs from the first: the zone changed during the transfer")
                    }
                    return records
                }
            }
            // IXFR of a current client: the SOA alone.
            if type == .ixfr, records.count == 1, index == 0, message.answers.count == 1 { return records }
            index += 1
        }
    }

    /// One blocking TCP connection with a receive and send timeout.
    struct Connection {
        let fd: Int32

        init(_ address: SocketAddress, timeoutSeconds: Int) throws(ZoneTransferClientError) {
            let family: Int32 = address.protocol == .inet6 ? AF_INET6 : AF_INET
            #if canImport(Glibc)
            let stream = Int32(SOCK_STREAM.rawValue)
            #else
            let stream = SOCK_STREAM
            #endif
            fd = socket(family, stream, 0)
            guard fd >= 0 else { throw ZoneTransferClientError("socket() failed") }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let result = address.withSockAddr { pointer, length in connect(fd, pointer, socklen_t(length)) }
            guard result == 0 else {
                Glibc.close(fd)
                throw ZoneTransferClientError("cannot connect to \(address): \(String(cString: strerror(errno)))")
            }
        }

        func send(frame: [UInt8]) throws(ZoneTransferClientError) {
            let bytes = [UInt8(frame.count >> 8), UInt8(frame.count & 0xFF)] + frame
            var sent = 0
            while sent < bytes.count {
                let written = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard written > 0 else { throw ZoneTransferClientError("sending the query failed") }
                sent += written
            }
        }

        func receiveFrame() throws(ZoneTransferClientError) -> [UInt8] {
            let header = try receive(2)
            return try receive(Int(header[0]) << 8 | Int(header[1]))
        }

        func receive(_ count: Int) throws(ZoneTransferClientError) -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: count)
            var filled = 0
            while filled < count {
                let received = buffer[filled...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard received > 0 else {
                    throw ZoneTransferClientError(received == 0 ? "the server closed the connection mid-transfer" : "receive failed: \(String(cString: strerror(errno)))")
                }
                filled += received
            }
            return buffer
        }

        func close() { Glibc.close(fd) }
    }
}
