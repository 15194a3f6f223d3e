import Metrics
import NIOCore

/// Counts answers by response code on one channel and hands the counts
/// to swift-metrics once per read burst (`cdnsd_dns_queries_total` with
/// `transport` and `rcode`): per query it only bumps a local slot.
struct QueryCounter {
    private static let rcodeNames = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15", "DROPPED",
    ]
    private static let dropped = 16

    private let transport: String
    private var counts = [Int64](repeating: 0, count: 17)
    private var counters = [Counter?](repeating: nil, count: 17)
    private var dirty = false

    init(transport: String) {
        self.transport = transport
    }

    /// Counts the response whose header starts at `headerStart` in `response`.
    mutating func count(response: ByteBuffer, headerStart: Int) {
        let flags = response.getInteger(at: headerStart + 3, as: UInt8.self) ?? 0
        counts[Int(flags & 0x0F)] += 1
        dirty = true
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
                counters[index] = Counter(label: "cdnsd_dns_queries_total", dimensions: [("transport", transport), ("rcode", Self.rcodeNames[index])])
            }
            counters[index]?.increment(by: counts[index])
            counts[index] = 0
        }
    }
}
