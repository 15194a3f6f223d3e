import DNSWire
import Metrics

/// Counts answers by response code on one channel and hands the counts
/// to swift-metrics once per read burst (`cdnsd_dns_queries_total` with
/// `transport` and `rcode`): per query it only bumps a local slot.
///
/// Codes are the whole 12-bit response code, so BADVERS (16, carried in
/// the OPT record) is counted as BADVERS, not as the NOERROR its header
/// bits alone read as.
struct QueryCounter {
    /// Slots 0…23 are response codes (BADCOOKIE is 23); slot 24 holds
    /// every rarer code, 25 the queries that got no answer.
    private static let codes = 24
    private static let other = 24
    private static let dropped = 25
    private static let names: [String] = (0..<codes).map { ResponseCode(rawValue: UInt16($0)).description } + ["OTHER", "DROPPED"]

    private let transport: String
    private var counts = [Int64](repeating: 0, count: names.count)
    private var counters = [Counter?](repeating: nil, count: names.count)
    private var dirty = false

    init(transport: String) {
        self.transport = transport
    }

    /// Counts one response by its response code.
    mutating func count(_ rcode: ResponseCode) {
        counts[Self.slot(rcode)] += 1
        dirty = true
    }

    private static func slot(_ rcode: ResponseCode) -> Int {
        Int(rcode.rawValue) < codes ? Int(rcode.rawValue) : other
    }

    /// Counts a reply a `DNSRequestHandler` made off the event loop (an
    /// UPDATE, a signed query), or nil for none sent: rare enough to go to
    /// swift-metrics at once.
    static func count(deferredReply reply: [UInt8]?, transport: String) {
        var index = dropped
        if let reply, reply.count >= 12 {
            // The decoded header carries the OPT's extended bits; a reply
            // that does not decode is counted by its header's four bits.
            index = slot((try? DNSMessage(decoding: reply))?.header.rcode ?? ResponseCode(rawValue: UInt16(reply[3] & 0x0F)))
        }
        Counter(label: "cdnsd_dns_queries_total", dimensions: [("transport", transport), ("rcode", names[index])]).increment()
    }

    /// Counts a query that got no answer (unparseable, or a response).
    mutating func countDropped() {
        counts[Self.dropped] += 1
        dirty = true
    }

    /// Hands what was counted since the last flush to swift-metrics.
    mutating func flush() {
        guard dirty else { return }
        dirty = false
        for index in counts.indices where counts[index] != 0 {
            if counters[index] == nil {
                counters[index] = Counter(label: "cdnsd_dns_queries_total", dimensions: [("transport", transport), ("rcode", Self.names[index])])
            }
            counters[index]?.increment(by: counts[index])
            counts[index] = 0
        }
    }
}
