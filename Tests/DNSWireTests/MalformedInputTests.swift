import DNSWire
import Testing

/// Hand-made hostile inputs. Each must end in a typed error with the right
/// code, never in a trap or an endless loop.
@Suite("Malformed input")
struct MalformedInputTests {
    /// A header with the given counts.
    static func header(qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) -> [UInt8] {
        [0x12, 0x34, 0x00, 0x00] + [qd, an, ns, ar].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    static func decodeError(_ bytes: [UInt8]) -> DNSWireError? {
        do {
            _ = try DNSMessage(decoding: bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test("truncation at every offset of a real response")
    func truncationAtEveryOffset() throws {
        let message = DNSMessage(
            header: DNSHeader(id: 7, flags: [.response, .authoritative]),
            questions: [Question(name: "www.svc.dev.", type: .any)],
            answers: Fixtures.everyType,
            edns: EDNS(options: [EDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])]))
        let bytes = try message.encode()
        for length in 0..<bytes.count {
            let error = Self.decodeError(Array(bytes[0..<length]))
            #expect(error?.code == .truncated, "cut at \(length) of \(bytes.count): \(String(describing: error))")
        }
        #expect(Self.decodeError(bytes) == nil)
    }

    @Test func selfPointer() {
        let error = Self.decodeError(Self.header() + [0xC0, 12, 0, 1, 0, 1])
        #expect(error?.code == .badPointer)
        #expect(error?.offset == 12)
    }

    @Test func forwardPointer() {
        let error = Self.decodeError(Self.header() + [0xC0, 14, 0, 1, 0, 1, 0])
        #expect(error?.code == .badPointer)
    }

    @Test func pointerLoop() {
        // "a" then a pointer back to "a": a name that never ends.
        let error = Self.decodeError(Self.header() + [1, 0x61, 0xC0, 12, 0, 1, 0, 1])
        #expect(error?.code == .pointerLoop)
        // Two names pointing at each other across questions.
        let twoNames = Self.header(qd: 2) + [1, 0x61, 0, 0, 1, 0, 1] + [1, 0x62, 0xC0, 19, 0, 1, 0, 1]
        #expect(Self.decodeError(twoNames)?.code == .pointerLoop)
    }

    @Test func pointerPastTheMessage() {
        #expect(Self.decodeError(Self.header() + [0xC0])?.code == .truncated)
    }

    @Test func reservedLabelTypes() {
        #expect(Self.decodeError(Self.header() + [0x41, 0x61, 0, 0, 1, 0, 1])?.code == .badLabelType)
        #expect(Self.decodeError(Self.header() + [0x81, 0x61, 0, 0, 1, 0, 1])?.code == .badLabelType)
    }

    @Test func nameOver255Bytes() {
        let label: [UInt8] = [63] + Array(repeating: 0x61, count: 63)
        let error = Self.decodeError(Self.header() + label + label + label + label + [0, 0, 1, 0, 1])
        #expect(error?.code == .nameTooLong)
        // Built from pointers: each segment is fine, the whole is too long.
        var bytes = Self.header(qd: 2) + label + label + label + [0, 0, 1, 0, 1]
        bytes += label + [0xC0, 12, 0, 1, 0, 1]
        #expect(Self.decodeError(bytes)?.code == .nameTooLong)
    }

    @Test("a 64-byte label cannot be expressed: its length byte is a label type")
    func labelOver63Bytes() {
        let bytes = Self.header() + [64] + Array(repeating: 0x61, count: 64) + [0, 0, 1, 0, 1]
        #expect(Self.decodeError(bytes)?.code == .badLabelType)
    }

    @Test func rdlengthPastTheEnd() {
        let record: [UInt8] = [0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 8, 10, 0, 0, 1]
        #expect(Self.decodeError(Self.header(qd: 0, an: 1) + record)?.code == .truncated)
    }

    @Test func rdlengthWrongForType() {
        let record: [UInt8] = [0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 10, 0, 0, 1, 9]
        #expect(Self.decodeError(Self.header(qd: 0, an: 1) + record)?.code == .badRecordData)
        // A CNAME whose name ends before its RDLENGTH does.
        let cname: [UInt8] = [0, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, 0x61, 0, 0xFF]
        #expect(Self.decodeError(Self.header(qd: 0, an: 1) + cname)?.code == .rdataLengthMismatch)
        // A TXT string longer than its RDATA.
        let txt: [UInt8] = [0, 0, 16, 0, 1, 0, 0, 0, 60, 0, 2, 5, 0x61]
        #expect(Self.decodeError(Self.header(qd: 0, an: 1) + txt)?.code == .badRecordData)
    }

    @Test func countsLargerThanTheData() {
        #expect(Self.decodeError(Self.header(qd: 0xFFFF, an: 0xFFFF, ns: 0xFFFF, ar: 0xFFFF) + [0, 0, 1, 0, 1])?.code == .truncated)
        #expect(Self.decodeError(Self.header(qd: 1, an: 3) + [0, 0, 1, 0, 1])?.code == .truncated)
    }

    @Test func trailingBytes() {
        let error = Self.decodeError(Self.header() + [0, 0, 1, 0, 1, 0xAB])
        #expect(error?.code == .trailingBytes)
        #expect(error?.offset == 17)
    }

    @Test func optRules() {
        let opt: [UInt8] = [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]
        #expect(Self.decodeError(Self.header(qd: 0, ar: 2) + opt + opt)?.code == .duplicateOPT)
        #expect(Self.decodeError(Self.header(qd: 0, an: 1) + opt)?.code == .misplacedOPT)
        #expect(Self.decodeError(Self.header(qd: 0, ar: 1) + [1, 0x61] + opt)?.code == .misplacedOPT)
        let badOption: [UInt8] = [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 9]
        #expect(Self.decodeError(Self.header(qd: 0, ar: 1) + badOption)?.code == .rdataLengthMismatch)
    }

    @Test("random bytes and mutations of real messages never trap")
    func randomInputs() throws {
        var generator = SystemRandomNumberGenerator()
        let seed = try DNSMessage(questions: [Question(name: "www.svc.dev.", type: .a)], answers: Fixtures.everyType, edns: EDNS()).encode()
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                bytes = seed
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            if let message = try? DNSMessage(decoding: bytes) {
                // Whatever decodes must re-encode and decode to the same message.
                #expect(try DNSMessage(decoding: try message.encode()) == message)
            }
        }
    }
}
