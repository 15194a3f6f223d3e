/// Reads an RFC 1035 §5 master file (zone file): `$ORIGIN` and `$TTL`
/// directives, `@` for the origin, names relative to the origin, a blank
/// owner repeating the previous one, TTL and class in either order or left
/// out (the last given applies), records split over lines with parentheses,
/// `;` comments. `$INCLUDE` is refused (name the included file instead).
public enum ZoneFile {
    /// The records of `text`, in file order.
    /// - Parameters:
    ///   - text: the zone file's contents.
    ///   - origin: the origin before any `$ORIGIN` (the zone's apex).
    ///   - defaultTTL: the TTL of records before any `$TTL` or explicit TTL.
    public static func parse(_ text: String, origin: DNSName, defaultTTL: UInt32 = 3600) throws(DNSWireError) -> [ResourceRecord] {
        var records: [ResourceRecord] = []
        var origin = origin
        var ttl: UInt32? = nil
        var lastTTL = defaultTTL
        var lastClass = "IN"
        var owner: DNSName? = nil
        for (number, line) in try logicalLines(text) {
            func fail(_ reason: String) -> DNSWireError {
                DNSWireError(.badPresentation, at: number, "line \(number): \(reason)")
            }
            let tokens: [PresentationToken]
            do { tokens = try PresentationLexer.tokens(line) } catch { throw fail(error.description) }
            guard let first = tokens.first else { continue }
            let blankOwner = line.first == " " || line.first == "\t"
            if !blankOwner, !first.quoted, first.string.hasPrefix("$") {
                switch first.string.uppercased() {
                case "$ORIGIN":
                    guard tokens.count >= 2 else { throw fail("$ORIGIN without a name") }
                    do { origin = try DNSName(tokens[1].string, origin: origin) } catch { throw fail(error.description) }
                case "$TTL":
                    guard tokens.count >= 2, let value = ResourceRecord.parseTTL(tokens[1].string) else { throw fail("$TTL without a TTL") }
                    ttl = value
                    lastTTL = value
                case "$INCLUDE":
                    throw fail("$INCLUDE is not supported; import the included file on its own")
                default:
                    throw fail("unknown directive \(first.string)")
                }
                continue
            }
            var rest = tokens[...]
            if !blankOwner {
                do { owner = try DNSName(first.string, origin: origin) } catch { throw fail(error.description) }
                rest = rest.dropFirst()
            }
            guard let owner else { throw fail("a record without an owner name and none before it") }
            // The TTL and class that come before the type, to carry forward.
            var explicitTTL: UInt32? = nil
            var explicitClass: String? = nil
            for token in rest.prefix(2) where !token.quoted {
                if explicitTTL == nil, let value = ResourceRecord.parseTTL(token.string) {
                    explicitTTL = value
                } else if explicitClass == nil, RRClass(mnemonic: token.string) != nil, RRType(mnemonic: token.string) == nil {
                    explicitClass = token.string
                } else {
                    break
                }
            }
            if let explicitTTL { lastTTL = explicitTTL }
            if let explicitClass { lastClass = explicitClass }
            let body = line.drop { $0 == " " || $0 == "\t" }
            let afterOwner = blankOwner ? Substring(body) : body.drop { $0 != " " && $0 != "\t" }
            var presentation = owner.description + " "
            if explicitClass == nil { presentation += lastClass + " " }
            presentation += afterOwner
            do {
                records.append(try ResourceRecord(presentation: presentation, origin: origin, defaultTTL: explicitTTL ?? ttl ?? lastTTL))
            } catch {
                throw fail(error.description)
            }
        }
        return records
    }

    /// Physical lines joined where parentheses span them, each with the
    /// number of the line it starts on; comments and empty lines dropped.
    static func logicalLines(_ text: String) throws(DNSWireError) -> [(Int, String)] {
        var result: [(Int, String)] = []
        var pending = ""
        var start = 0
        var depth = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = ""
            var quoted = false
            var escaped = false
            for char in raw {
                if escaped {
                    escaped = false
                } else if char == "\\" {
                    escaped = true
                } else if char == "\"" {
                    quoted.toggle()
                } else if !quoted {
                    if char == ";" { break }
                    if char == "(" { depth += 1 }
                    if char == ")" {
                        guard depth > 0 else { throw DNSWireError(.badPresentation, at: index + 1, "line \(index + 1): ')' without '('") }
                        depth -= 1
                    }
                }
                line.append(char)
            }
            if pending.isEmpty { start = index + 1 }
            pending += pending.isEmpty ? line : " " + line
            if depth == 0 {
                if pending.contains(where: { !$0.isWhitespace }) { result.append((start, pending)) }
                pending = ""
            }
        }
        guard depth == 0 else { throw DNSWireError(.badPresentation, at: start, "line \(start): '(' never closed") }
        return result
    }
}
