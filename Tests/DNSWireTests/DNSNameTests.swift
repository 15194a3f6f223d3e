import DNSWire
import Testing

@Suite("Names")
struct DNSNameTests {
    /// Parses at run time: `DNSName("literal")` would be a literal coercion.
    func parse(_ text: String, origin: DNSName? = nil) throws -> DNSName { try DNSName(text, origin: origin) }

    @Test func caseIsKeptButIgnoredByEqualityAndHashing() throws {
        let upper = try parse("WwW.SvC.DeV.")
        let lower = try parse("www.svc.dev.")
        #expect(upper == lower)
        #expect(upper.hashValue == lower.hashValue)
        #expect(upper.description == "WwW.SvC.DeV.")
        #expect(Set([upper, lower]).count == 1)
        #expect(upper.lowercased().description == "www.svc.dev.")
    }

    @Test func escapesParseAndPrint() throws {
        let name = try parse("a\\.b.c\\032d.\\255\\000.")
        #expect(name.labelCount == 3)
        #expect(Array(name.labels[0]) == Array("a.b".utf8))
        #expect(Array(name.labels[1]) == Array("c d".utf8))
        #expect(Array(name.labels[2]) == [255, 0])
        #expect(name.description == "a\\.b.c\\032d.\\255\\000.")
        #expect(try parse(name.description) == name)
    }

    @Test func limits() throws {
        let label63 = String(repeating: "a", count: 63)
        #expect(try DNSName("\(label63).dev.").labelCount == 2)
        #expect(throws: DNSWireError(.labelTooLong, at: 64, "label of 64 bytes")) { try DNSName("\(label63)a.dev.") }
        // 4 × 63-byte labels = 256 wire bytes with length bytes and root: one too many.
        let tooLong = Array(repeating: label63, count: 4).joined(separator: ".") + "."
        #expect { try DNSName(tooLong) } throws: { ($0 as? DNSWireError)?.code == .nameTooLong }
        let longest = Array(repeating: label63, count: 3).joined(separator: ".") + "." + String(repeating: "b", count: 61) + "."
        #expect(try DNSName(longest).wireLength == 255)
        #expect { try parse("a..b.") } throws: { ($0 as? DNSWireError)?.code == .badPresentation }
        #expect { try parse("bad\\999.") } throws: { ($0 as? DNSWireError)?.code == .badPresentation }
    }

    @Test func relativeNamesAndOrigin() throws {
        let origin = try parse("svc.dev.")
        #expect(try parse("www", origin: origin) == DNSName("www.svc.dev."))
        #expect(try parse("@", origin: origin) == origin)
        #expect(try parse("www.svc.dev") == DNSName("www.svc.dev."))
        #expect(try parse(".") == .root)
        #expect(DNSName.root.description == ".")
    }

    @Test func hierarchy() throws {
        let name: DNSName = "a.b.svc.dev."
        #expect(name.isSubdomain(of: "SVC.dev."))
        #expect(name.isSubdomain(of: name))
        #expect(!name.isSubdomain(of: "vc.dev."))
        #expect(!DNSName("svc.dev.").isSubdomain(of: name))
        #expect(name.parent == DNSName("b.svc.dev."))
        #expect(name.droppingFirstLabels(2) == DNSName("svc.dev."))
        #expect(try name.parent?.prepending(label: Array("*".utf8)).isWildcard == true)
        #expect(DNSName.root.parent == nil)
    }

    @Test func canonicalOrder() throws {
        // RFC 4034 §6.1 example order.
        let ordered: [DNSName] = ["example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."]
        #expect(ordered.shuffled().sorted() == ordered)
    }

    @Test("names compress against earlier names, ignoring case")
    func compression() throws {
        let message = DNSMessage(
            questions: [Question(name: "www.svc.dev.", type: .a)],
            answers: [
                ResourceRecord(name: "WWW.svc.dev.", ttl: 1, data: .cname("mail.SVC.dev.")),
                ResourceRecord(name: "mail.svc.dev.", ttl: 1, data: .a(IPv4Address(1, 2, 3, 4))),
            ])
        let bytes = try message.encode()
        // header 12 + question (13 + 4) + CNAME (pointer 2 + 10 + "mail" 5 + pointer 2) + A (pointer 2 + 10 + 4)
        #expect(bytes.count == 12 + 17 + 19 + 16)
        #expect(try DNSMessage(decoding: bytes) == message)
    }
}
