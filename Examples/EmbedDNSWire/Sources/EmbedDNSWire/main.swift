import DNSWire
import ZoneStore

// A zone held in memory: the SOA and NS come from the settings, the rest
// are records in zone-file form.
let zone = ZoneConfiguration(
    origin: "svc.dev", nameservers: ["dns.svc.dev"], admin: "admin.svc.dev",
    records: [
        try ResourceRecord(presentation: "*.svc.dev. 300 A 10.8.10.252"),
        try ResourceRecord(presentation: "dns.svc.dev. 300 A 10.8.10.253"),
        try ResourceRecord(presentation: "www.svc.dev. 300 CNAME ingress.svc.dev."),
    ])
let store = try await ZoneRecordStore(zones: [zone], backend: MemoryBackend())

// A query as a client sends it, encoded to wire format and decoded again.
let query = DNSMessage(header: DNSHeader(id: 0x2a, flags: .recursionDesired), questions: [Question(name: "www.svc.dev", type: .a)])
let wire = try query.encode()
let received = try DNSMessage(decoding: wire)
guard let question = received.questions.first else { throw Unexpected(reason: "the query lost its question") }

// The authoritative answer: the CNAME, then the wildcard's A for its target.
let answer = store.snapshot().lookup(question.name, type: question.type)
let reply = DNSMessage(
    header: DNSHeader(id: received.header.id, flags: [.response, .authoritative], rcode: answer.rcode),
    questions: received.questions,
    answers: answer.answer.flatMap(\.records),
    authority: answer.authority.flatMap(\.records))
let replyWire = try reply.encode(maxSize: 512)
let decoded = try DNSMessage(decoding: replyWire)

print("query: \(wire.count) bytes, reply: \(replyWire.count) bytes, rcode \(decoded.header.rcode)")
for record in decoded.answers { print(record) }

// What a test can check: the chain ends at the wildcard's address.
let addresses = decoded.answers.compactMap { record -> String? in
    if case .a(let address) = record.data { return "\(address)" } else { return nil }
}
guard decoded.header.rcode == .noError, decoded.answers.count == 2, addresses == ["10.8.10.252"] else {
    throw Unexpected(reason: "unexpected answer")
}

struct Unexpected: Error { let reason: String }
