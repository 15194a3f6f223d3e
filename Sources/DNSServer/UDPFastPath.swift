#if os(Linux)
import CUDPBatch
import DNSWire
import Dispatch
import Glibc
import NIOCore
import Synchronization
import ZoneStore

// The UDP fast path: one thread per socket, each socket bound with
// SO_REUSEPORT to the same address so the kernel spreads datagrams over
// them; `recvmmsg` and `sendmmsg` on arrays allocated once per thread;
// answers written straight into the send buffers, and repeated questions
// answered from an `AnswerCache` by a hash lookup, a copy and a patch.
//
// Every raw pointer, hand-managed allocation and socket call of the DNS
// server is in this file.

/// One bound UDP socket. The worker thread reads and writes `fd` without a
/// lock; `close()` comes only after that thread ended. Replies made later by
/// a `DNSRequestHandler` go through `send(_:to:)`, which does nothing once
/// the socket is closed (so never writes to a reused descriptor number).
final class UDPSocket: Sendable {
    let fd: Int32
    private let open = Mutex(true)

    init(binding address: SocketAddress) throws {
        let family = address.withSockAddr { pointer, _ in Int32(pointer.pointee.sa_family) }
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        // A stop wakes the thread with shutdown(); the timeout is only a backstop.
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size) == 0,
              setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, size) == 0,
              setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0,
              address.withSockAddr({ pointer, length in bind(fd, pointer, socklen_t(length)) }) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw IOError(errnoCode: code, reason: "bind \(address)")
        }
        // A deep receive queue (best effort, capped by net.core.rmem_max):
        // a burst of a flood then waits in it instead of crowding out the
        // legitimate queries that arrive with it (issue 15's storm case).
        var buffer: Int32 = 4 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, size)
        self.fd = fd
    }

    deinit { close() }

    /// The address bound, with the port the kernel picked for port 0.
    var localAddress: SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { Self.socketAddress(UnsafeRawBufferPointer(rebasing: $0[..<Int(length)])) }
    }

    /// Sends one datagram to `peer` (a `sockaddr` as received), unless closed.
    func send(_ bytes: [UInt8], to peer: [UInt8]) {
        open.withLock { isOpen in
            guard isOpen else { return }
            bytes.withUnsafeBytes { message in
                peer.withUnsafeBytes { address in
                    guard let name = address.baseAddress?.assumingMemoryBound(to: sockaddr.self) else { return }
                    _ = sendto(fd, message.baseAddress, message.count, Int32(MSG_DONTWAIT), name, socklen_t(address.count))
                }
            }
        }
    }

    /// Makes a `recvmmsg` blocked on this socket return.
    func wake() { _ = shutdown(fd, Int32(SHUT_RD)) }

    func close() {
        open.withLock { isOpen in
            if isOpen { _ = Glibc.close(fd) }
            isOpen = false
        }
    }

    /// A `sockaddr_in` or `sockaddr_in6` as NIO's address; nil for others.
    static func socketAddress(_ raw: UnsafeRawBufferPointer) -> SocketAddress? {
        guard raw.count >= MemoryLayout<sa_family_t>.size else { return nil }
        switch Int32(raw.loadUnaligned(as: sa_family_t.self)) {
        case AF_INET where raw.count >= MemoryLayout<sockaddr_in>.size:
            return SocketAddress(raw.loadUnaligned(as: sockaddr_in.self))
        case AF_INET6 where raw.count >= MemoryLayout<sockaddr_in6>.size:
            return SocketAddress(raw.loadUnaligned(as: sockaddr_in6.self))
        default:
            return nil
        }
    }
}

/// One thread answering one `UDPSocket` until `stop()`.
///
/// `@unchecked Sendable` is safe because everything mutable lives in
/// `run()`'s locals on the worker thread; other threads only call `stop()`,
/// which touches an atomic, the socket (itself `Sendable`) and `thread`,
/// which `start()` set before anyone could call `stop()`.
final class UDPWorker: @unchecked Sendable {
    /// Datagrams per `recvmmsg` and replies per `sendmmsg`.
    static let batch = 32
    /// Empty non-blocking receives (about a microsecond each, each after a
    /// `sched_yield`) before the thread blocks; batches of 64 and DF
    /// (IP_PMTUDISC_OMIT) gained nothing.
    static let pollsBeforeSleep = 50
    /// Further polls (each after a `sched_yield`) that may top up a batch
    /// which a receive filled only in part, ending early once
    /// `quietPollsEndingTopUp` in a row found nothing. Under load this
    /// answers in bursts of about 30 instead of 4, so a client reading the
    /// answers sleeps and wakes about half as often (dnsperf on one core: 18
    /// -> 8-10 context switches per 100 answers, 1.04-1.07x -> 1.09-1.12x
    /// knotd's q/s in ten-round runs); a lone query waits only the quiet polls, a few
    /// microseconds. Docs/performance.md, "Answering in bursts", has how
    /// both numbers were chosen.
    static let topUpPolls = 100
    static let quietPollsEndingTopUp = 5

    let socket: UDPSocket
    private let snapshots: UDPSnapshotSource
    private let responder: QueryResponder
    private let requestHandler: (any DNSRequestHandler)?
    private let rateLimiter: ResponseRateLimiter
    private let name: String
    private let stopping = Atomic(false)
    /// Signalled once the thread has registered in `QueryThreads`.
    private let registered = DispatchSemaphore(value: 0)
    private var thread: pthread_t? = nil

    init(socket: UDPSocket, snapshots: UDPSnapshotSource, responder: QueryResponder, requestHandler: (any DNSRequestHandler)?,
         rateLimiter: ResponseRateLimiter = ResponseRateLimiter(.off), name: String) {
        self.socket = socket
        self.snapshots = snapshots
        self.responder = responder
        self.requestHandler = requestHandler
        self.rateLimiter = rateLimiter
        self.name = name
    }

    func start() throws {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<UDPWorker>.fromOpaque(context).takeRetainedValue().run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<UDPWorker>.fromOpaque(context).release()
            throw IOError(errnoCode: result, reason: "pthread_create")
        }
        self.thread = thread
        // A priority sweep after start() must find the thread registered.
        registered.wait()
    }

    /// Ends the thread (it finishes the batch in hand) and closes the socket.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        socket.wake()
        if let thread { pthread_join(thread, nil) }
        thread = nil
        socket.close()
    }

    private func run() {
        cdns_set_thread_name(name)
        QueryThreads.register()
        registered.signal()
        defer { QueryThreads.unregister() }
        let batch = Self.batch
        let datagramSize = DNSListener.maxDatagram
        let replySize = responder.bufferSize(for: .udp)
        let peerSize = socklen_t(MemoryLayout<sockaddr_storage>.size)

        // Everything a batch needs, allocated once.
        let receiveArea = UnsafeMutableRawPointer.allocate(byteCount: batch * datagramSize, alignment: 64)
        let replyArea = UnsafeMutableRawPointer.allocate(byteCount: batch * replySize, alignment: 64)
        let peers = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: batch)
        let receiveVectors = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        let replyVectors = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        let received = UnsafeMutablePointer<cdns_mmsghdr>.allocate(capacity: batch)
        let replies = UnsafeMutablePointer<cdns_mmsghdr>.allocate(capacity: batch)
        defer {
            receiveArea.deallocate()
            replyArea.deallocate()
            peers.deallocate()
            receiveVectors.deallocate()
            replyVectors.deallocate()
            received.deallocate()
            replies.deallocate()
        }
        peers.initialize(repeating: sockaddr_storage(), count: batch)
        for index in 0..<batch {
            (receiveVectors + index).initialize(to: iovec(iov_base: receiveArea + index * datagramSize, iov_len: datagramSize))
            (replyVectors + index).initialize(to: iovec(iov_base: replyArea + index * replySize, iov_len: 0))
            (received + index).initialize(to: cdns_mmsghdr(
                msg_hdr: cdns_msghdr(msg_name: UnsafeMutableRawPointer(peers + index), msg_namelen: peerSize, msg_iov: UnsafeMutableRawPointer(receiveVectors + index),
                                     msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0),
                msg_len: 0))
            (replies + index).initialize(to: cdns_mmsghdr(
                msg_hdr: cdns_msghdr(msg_name: nil, msg_namelen: 0, msg_iov: UnsafeMutableRawPointer(replyVectors + index), msg_iovlen: 1,
                                     msg_control: nil, msg_controllen: 0, msg_flags: 0),
                msg_len: 0))
        }

        var version = snapshots.version
        var answerer = UDPAnswerer(snapshot: snapshots.snapshot, responder: responder, requestHandler: requestHandler, rateLimiter: rateLimiter, socket: socket)
        let fd = socket.fd
        /// `recvmmsg` into the batch from slot `first` on, with each slot's
        /// peer length reset (the kernel shortens it to the address it wrote).
        func receive(from first: Int, _ flags: Int32) -> Int {
            for index in first..<batch { received[index].msg_hdr.msg_namelen = peerSize }
            return Int(cdns_recvmmsg(fd, received + first, UInt32(batch - first), flags))
        }
        while !stopping.load(ordering: .relaxed) {
            // Drain without sleeping first: under load the next datagram is
            // microseconds away, and a sleeping thread makes every client's
            // send pay for waking it (measured: 1.07x -> 1.10x knotd's q/s on
            // one core, the load generator being the bottleneck). Each poll
            // yields the core first, so that a runnable neighbour (a client
            // on the same core) is not kept waiting by it.
            var count = receive(from: 0, Int32(MSG_DONTWAIT))
            var polls = 1
            while count <= 0 && polls < Self.pollsBeforeSleep && !stopping.load(ordering: .relaxed) {
                sched_yield()
                count = receive(from: 0, Int32(MSG_DONTWAIT))
                polls += 1
            }
            if count <= 0 { count = receive(from: 0, Int32(MSG_WAITFORONE)) }
            // Interrupted, timed out, or woken by stop().
            guard count > 0 else { continue }
            // Top the batch up while datagrams keep arriving.
            var topUps = 0
            var quiet = 0
            while count < batch && topUps < Self.topUpPolls && quiet < Self.quietPollsEndingTopUp {
                sched_yield()
                topUps += 1
                let more = receive(from: count, Int32(MSG_DONTWAIT))
                if more > 0 {
                    count += more
                    quiet = 0
                } else {
                    quiet += 1
                }
            }
            // After the receive: a snapshot published before these datagrams
            // arrived is the one that answers them.
            let latest = snapshots.version
            if latest != version {
                version = latest
                answerer.use(snapshots.snapshot)
            }
            if rateLimiter.isEnabled { answerer.now = ResponseRateLimiter.now() }
            var ready = 0
            for index in 0..<count {
                let query = UnsafeRawBufferPointer(start: receiveArea + index * datagramSize, count: Int(received[index].msg_len))
                let output = UnsafeMutableRawBufferPointer(start: replyArea + ready * replySize, count: replySize)
                let peer = UnsafeRawBufferPointer(start: peers + index, count: Int(received[index].msg_hdr.msg_namelen))
                let length = answerer.answer(query, into: output, peer: peer)
                guard length > 0 else { continue }
                replyVectors[ready].iov_len = length
                replies[ready].msg_hdr.msg_name = UnsafeMutableRawPointer(peers + index)
                replies[ready].msg_hdr.msg_namelen = received[index].msg_hdr.msg_namelen
                ready += 1
            }
            // Counted before sent: a client that saw its answer finds it in /metrics.
            answerer.counter.flush()
            answerer.limited.flush()
            var sent = 0
            while sent < ready {
                let result = cdns_sendmmsg(fd, replies + sent, UInt32(ready - sent), 0)
                if result > 0 {
                    sent += Int(result)
                } else if errno != EINTR {
                    sent += 1  // this peer's reply cannot go out; the next may
                }
            }
        }
    }
}

/// Everything one worker thread answers with: its snapshot, its answer
/// cache, its counters. Non-copyable, so it can own the cache's memory.
struct UDPAnswerer: ~Copyable {
    private(set) var snapshot: ZoneSnapshot
    private var cache = AnswerCache()
    private var scratch = Answer(rcode: .noError, authoritative: true)
    var counter = QueryCounter(transport: "udp")
    var limited = RateLimitCounter()
    /// The rate limiter's clock, read once per batch.
    var now: UInt32 = 0
    let responder: QueryResponder
    let requestHandler: (any DNSRequestHandler)?
    let rateLimiter: ResponseRateLimiter
    /// Where replies of the request handler go; nil in tests.
    let socket: UDPSocket?

    init(snapshot: ZoneSnapshot, responder: QueryResponder, requestHandler: (any DNSRequestHandler)? = nil,
         rateLimiter: ResponseRateLimiter = ResponseRateLimiter(.off), socket: UDPSocket? = nil) {
        self.snapshot = snapshot
        self.responder = responder
        self.requestHandler = requestHandler
        self.rateLimiter = rateLimiter
        self.socket = socket
    }

    /// Answers from `snapshot` from now on; forgets every cached answer.
    mutating func use(_ snapshot: ZoneSnapshot) {
        self.snapshot = snapshot
        cache.invalidate()
    }

    /// Writes the reply to `query` into `output` and returns its length; 0
    /// for no reply now (dropped, or handed to the request handler).
    mutating func answer(_ query: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, peer: UnsafeRawBufferPointer) -> Int {
        let key = AnswerCache.key(for: query, maxUDPPayload: responder.maxUDPPayload)
        if let key, let (length, rcode) = cache.answer(key, query: query, into: output) {
            counter.count(rcode)
            return admit(output, length: length, peer: peer)
        }
        switch responder.respond(to: query, snapshot: snapshot, transport: .udp, into: output, scratch: &scratch, deferring: requestHandler != nil) {
        case .answered(let length, let rcode):
            if let key { cache.insert(key, query: query, response: UnsafeRawBufferPointer(rebasing: output[..<length]), rcode: rcode) }
            counter.count(rcode)
            return admit(output, length: length, peer: peer)
        case .dropped:
            counter.countDropped()
            return 0
        case .deferred(let message):
            guard let requestHandler, let socket else { return 0 }
            let request = DNSRequest(bytes: Array(query), message: message, source: IPAddress(socketAddress: UDPSocket.socketAddress(peer)), transport: .udp)
            let address = Array(peer)
            Task {
                let reply = await requestHandler.responses(to: request).first
                QueryCounter.count(deferredReply: reply, transport: "udp")
                if let reply { socket.send(reply, to: address) }
            }
            return 0
        }
    }
}

/// ASCII letters lowered, as DNS compares names (RFC 4343).
@inline(__always)
private func asciiLower(_ byte: UInt8) -> UInt8 {
    byte &- 65 < 26 ? byte | 0x20 : byte
}

extension UDPAnswerer {
    /// Every answer passes here on its way out: response rate limiting by
    /// the raw `sockaddr` in `peer`. The length to send (a slipped reply is
    /// truncated in place), or 0 to drop it.
    @inline(__always)
    mutating func admit(_ output: UnsafeMutableRawBufferPointer, length: Int, peer: UnsafeRawBufferPointer) -> Int {
        guard rateLimiter.isEnabled else { return length }
        var decision = ResponseRateLimiter.Decision.send
        let admitted = rateLimiter.admit(output, length: length, peer: peer, now: now, decision: &decision)
        limited.count(decision)
        return admitted
    }
}

/// What identifies a cached answer: the question (name without case, type,
/// class) and everything else of the query the answer depends on.
struct AnswerKey {
    var hash: UInt64
    /// The question name's wire length, root byte included; it starts at offset 12.
    var nameLength: Int
    var type: UInt16
    var qClass: UInt16
    /// The size limit the answer was made for (512 without EDNS).
    var maxSize: UInt16
    /// 0 without EDNS, 1 with, 2 with the DO bit.
    var edns: UInt8
}

/// Answers already written, per worker thread, for the current snapshot:
/// a repeated question costs a hash, a compare, one copy, and patching the
/// ID, the RD and CD bits and the question name (whose case the client
/// chose; every later name in the answer points at it or is stored data).
///
/// A fixed table of 4-way sets of 256-byte slots (2 MB) in one `calloc`ed
/// block, so memory is touched only as answers arrive and a lookup
/// allocates nothing; answers too long for a slot are never cached. A new
/// snapshot invalidates every slot at once (`epoch`).
/// Only plain queries get here: one question, no records but an OPT, not
/// AXFR/IXFR; everything else takes the general path every time.
struct AnswerCache: ~Copyable {
    static let slotCount = 8192
    static let slotSize = 256
    static let ways = 4
    /// hash 8, epoch 4, type 2, class 2, maxSize 2, edns 1, name length 1, answer length 2, rcode 2.
    static let slotHeader = 24

    private let arena: UnsafeMutableRawPointer?
    private var epoch: UInt32 = 1
    /// The way a full set gives up next.
    private var victim = 0

    init() {
        arena = calloc(Self.slotCount, Self.slotSize)
    }

    deinit { free(arena) }

    mutating func invalidate() {
        epoch &+= 1
        if epoch == 0, let arena {
            memset(arena, 0, Self.slotCount * Self.slotSize)
            epoch = 1
        }
    }

    /// The key of a plain query, or nil for anything the cache leaves to the general path.
    static func key(for query: UnsafeRawBufferPointer, maxUDPPayload: UInt16) -> AnswerKey? {
        let count = query.count
        // QR clear, opcode QUERY; QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0 or 1.
        guard count >= 17, query[2] & 0xF8 == 0, query[4] == 0, query[5] == 1, query[6] == 0, query[7] == 0,
              query[8] == 0, query[9] == 0, query[10] == 0, query[11] <= 1 else { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var position = 12
        while true {
            guard position < count else { return nil }
            let length = Int(query[position])
            if length == 0 { break }
            // Compression pointers and extended labels go the general way.
            guard length <= DNSName.maxLabelLength, position + length < count else { return nil }
            hash = (hash ^ UInt64(length)) &* 0x100_0000_01b3
            for offset in (position + 1)...(position + length) {
                hash = (hash ^ UInt64(asciiLower(query[offset]))) &* 0x100_0000_01b3
            }
            position += length + 1
        }
        let nameLength = position + 1 - 12
        guard nameLength <= DNSName.maxWireLength, position + 5 <= count else { return nil }
        position += 1
        let type = UInt16(query[position]) << 8 | UInt16(query[position + 1])
        let qClass = UInt16(query[position + 2]) << 8 | UInt16(query[position + 3])
        guard type != RRType.axfr.rawValue, type != RRType.ixfr.rawValue else { return nil }
        position += 4
        var maxSize: UInt16 = 512
        var edns: UInt8 = 0
        if query[11] == 1 {
            // OPT: root owner, type 41, payload size, extended rcode, version 0, flags, options.
            guard position + 11 <= count, query[position] == 0, query[position + 1] == 0, query[position + 2] == 41,
                  query[position + 6] == 0 else { return nil }
            let payload = UInt16(query[position + 3]) << 8 | UInt16(query[position + 4])
            let end = position + 11 + (Int(query[position + 9]) << 8 | Int(query[position + 10]))
            guard end == count else { return nil }
            var option = position + 11
            while option < end {
                guard option + 4 <= end else { return nil }
                option += 4 + (Int(query[option + 2]) << 8 | Int(query[option + 3]))
            }
            guard option == end else { return nil }
            maxSize = min(max(payload, 512), maxUDPPayload)
            edns = query[position + 7] & 0x80 != 0 ? 2 : 1
        } else if position != count {
            return nil
        }
        hash = (hash ^ (UInt64(type) << 40 | UInt64(qClass) << 24 | UInt64(maxSize) << 8 | UInt64(edns))) &* 0x100_0000_01b3
        return AnswerKey(hash: hash, nameLength: nameLength, type: type, qClass: qClass, maxSize: maxSize, edns: edns)
    }

    private func set(for key: AnswerKey) -> Int {
        Int(truncatingIfNeeded: key.hash >> 32) & (Self.slotCount - 1) & ~(Self.ways - 1)
    }

    /// Writes the cached answer to the query of `key` into `output`; its length and rcode, or nil.
    func answer(_ key: AnswerKey, query: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> (Int, ResponseCode)? {
        guard let arena, let target = output.baseAddress, let source = query.baseAddress else { return nil }
        let first = set(for: key)
        for index in first..<(first + Self.ways) {
            let slot = arena + index * Self.slotSize
            guard slot.load(as: UInt64.self) == key.hash, slot.load(fromByteOffset: 8, as: UInt32.self) == epoch,
                  slot.load(fromByteOffset: 12, as: UInt16.self) == key.type, slot.load(fromByteOffset: 14, as: UInt16.self) == key.qClass,
                  slot.load(fromByteOffset: 16, as: UInt16.self) == key.maxSize, slot.load(fromByteOffset: 18, as: UInt8.self) == key.edns,
                  Int(slot.load(fromByteOffset: 19, as: UInt8.self)) == key.nameLength & 0xFF else { continue }
            let name = (slot + Self.slotHeader).assumingMemoryBound(to: UInt8.self)
            var same = true
            for offset in 0..<key.nameLength where asciiLower(query[12 + offset]) != name[offset] {
                same = false
                break
            }
            let length = Int(slot.load(fromByteOffset: 20, as: UInt16.self))
            guard same, length <= output.count else { continue }
            target.copyMemory(from: slot + Self.slotHeader + key.nameLength, byteCount: length)
            // The client's ID, RD and CD bits, and its spelling of the name.
            target.copyMemory(from: source, byteCount: 2)
            target.storeBytes(of: target.load(fromByteOffset: 2, as: UInt8.self) & ~0x01 | query[2] & 0x01, toByteOffset: 2, as: UInt8.self)
            target.storeBytes(of: target.load(fromByteOffset: 3, as: UInt8.self) & ~0x10 | query[3] & 0x10, toByteOffset: 3, as: UInt8.self)
            (target + 12).copyMemory(from: source + 12, byteCount: key.nameLength)
            return (length, ResponseCode(rawValue: slot.load(fromByteOffset: 22, as: UInt16.self)))
        }
        return nil
    }

    /// Keeps `response`, the general path's answer to the query of `key`, if it fits a slot.
    mutating func insert(_ key: AnswerKey, query: UnsafeRawBufferPointer, response: UnsafeRawBufferPointer, rcode: ResponseCode) {
        guard let arena, let bytes = response.baseAddress, Self.slotHeader + key.nameLength + response.count <= Self.slotSize,
              // The question, as written at offset 12, is what answers patch.
              response.count >= 12 + key.nameLength + 4, response[4] == 0, response[5] == 1 else { return }
        let first = set(for: key)
        var index = first + victim
        for way in first..<(first + Self.ways) where (arena + way * Self.slotSize).load(fromByteOffset: 8, as: UInt32.self) != epoch {
            index = way
            break
        }
        if index == first + victim { victim = (victim + 1) & (Self.ways - 1) }
        let slot = arena + index * Self.slotSize
        slot.storeBytes(of: key.hash, as: UInt64.self)
        slot.storeBytes(of: epoch, toByteOffset: 8, as: UInt32.self)
        slot.storeBytes(of: key.type, toByteOffset: 12, as: UInt16.self)
        slot.storeBytes(of: key.qClass, toByteOffset: 14, as: UInt16.self)
        slot.storeBytes(of: key.maxSize, toByteOffset: 16, as: UInt16.self)
        slot.storeBytes(of: key.edns, toByteOffset: 18, as: UInt8.self)
        slot.storeBytes(of: UInt8(truncatingIfNeeded: key.nameLength), toByteOffset: 19, as: UInt8.self)
        slot.storeBytes(of: UInt16(response.count), toByteOffset: 20, as: UInt16.self)
        slot.storeBytes(of: rcode.rawValue, toByteOffset: 22, as: UInt16.self)
        let name = (slot + Self.slotHeader).assumingMemoryBound(to: UInt8.self)
        for offset in 0..<key.nameLength { name[offset] = asciiLower(query[12 + offset]) }
        (slot + Self.slotHeader + key.nameLength).copyMemory(from: bytes, byteCount: response.count)
    }
}
#endif
