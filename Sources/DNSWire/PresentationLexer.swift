/// Splits one zone-file line into tokens (RFC 1035 §5.1): whitespace
/// separates, `;` starts a comment, `"…"` quotes, parentheses group and are
/// dropped. Escapes stay in the token text; each field unescapes its own.
struct PresentationToken {
    var text: [UInt8]
    var quoted: Bool
    /// Column where the token starts, for error messages.
    var column: Int

    var string: String { String(decoding: text, as: UTF8.self) }

    /// The token as a character-string (RFC 1035 §5.1): escapes resolved, ≤ 255 bytes.
    func characterString() throws(DNSWireError) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < text.count {
            if text[index] == UInt8(ascii: "\\") {
                let (byte, used) = try DNSName.unescape(text, at: index)
                out.append(byte)
                index += used
            } else {
                out.append(text[index])
                index += 1
            }
        }
        guard out.count <= 255 else {
            throw DNSWireError(.badPresentation, at: column, "character-string of \(out.count) bytes; at most 255")
        }
        return out
    }
}

enum PresentationLexer {
    static func tokens(_ line: some StringProtocol) throws(DNSWireError) -> [PresentationToken] {
        let bytes = Array(line.utf8)
        var tokens: [PresentationToken] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"),
                 UInt8(ascii: "("), UInt8(ascii: ")"):
                index += 1
            case UInt8(ascii: ";"):
                return tokens
            case UInt8(ascii: "\""):
                let start = index
                index += 1
                var text: [UInt8] = []
                var closed = false
                while index < bytes.count {
                    if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count {
                        text.append(contentsOf: bytes[index...(index + 1)])
                        index += 2
                        continue
                    }
                    if bytes[index] == UInt8(ascii: "\"") {
                        closed = true
                        index += 1
                        break
                    }
                    text.append(bytes[index])
                    index += 1
                }
                guard closed else { throw DNSWireError(.badPresentation, at: start, "unterminated quote") }
                tokens.append(PresentationToken(text: text, quoted: true, column: start))
            default:
                let start = index
                var text: [UInt8] = []
                while index < bytes.count {
                    let current = bytes[index]
                    if current == UInt8(ascii: "\\"), index + 1 < bytes.count {
                        text.append(contentsOf: bytes[index...(index + 1)])
                        index += 2
                        continue
                    }
                    if endsToken(current) { break }
                    text.append(current)
                    index += 1
                }
                tokens.append(PresentationToken(text: text, quoted: false, column: start))
            }
        }
        return tokens
    }

    /// Whether `byte` ends an unquoted token.
    @inline(__always)
    private static func endsToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: ";"), UInt8(ascii: "\""):
            return true
        default:
            return false
        }
    }
}
