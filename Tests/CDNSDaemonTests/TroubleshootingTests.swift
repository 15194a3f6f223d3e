import Foundation
import Testing
@testable import CDNSDaemon

/// Docs/troubleshooting.md quotes what cdnsd prints: every log line in its
/// `text` blocks must carry a message the sources log, and the
/// configuration errors must be the ones the parser produces.
@Suite struct TroubleshootingTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func textBlockLines() throws -> [String] {
        let page = try String(contentsOf: root.appendingPathComponent("Docs/troubleshooting.md"), encoding: .utf8)
        var lines: [String] = []
        var inside = false
        for line in page.components(separatedBy: "\n") {
            if line.hasPrefix("```") { inside = line == "```text"; continue }
            if inside { lines.append(line) }
        }
        return lines
    }

    /// Every Swift source of the package, concatenated.
    static func sources() throws -> String {
        let enumerator = FileManager.default.enumerator(at: root.appendingPathComponent("Sources"), includingPropertiesForKeys: nil)
        var text = ""
        while let url = enumerator?.nextObject() as? URL {
            if url.pathExtension == "swift" { text += try String(contentsOf: url, encoding: .utf8) }
        }
        return text
    }

    /// `… [Module] message` → message.
    static func messages(in lines: [String]) -> [String] {
        lines.compactMap { line in
            guard line.range(of: #"^\d{4}-\d\d-\d\dT"#, options: .regularExpression) != nil,
                  let bracket = line.range(of: #"\[[A-Za-z]+\] "#, options: [.regularExpression, .backwards]) else { return nil }
            return String(line[bracket.upperBound...])
        }
    }

    /// `TIME LEVEL LABEL: key=value … [Module] message` → (LABEL, the metadata keys).
    static func labelAndKeys(of line: String) -> (label: String, keys: [String])? {
        guard let head = line.range(of: #"^\S+ [a-z]+ [a-z.]+: "#, options: .regularExpression),
              let bracket = line.range(of: #"\[[A-Za-z]+\] "#, options: [.regularExpression, .backwards]) else { return nil }
        let label = line[head].split(separator: " ")[2].dropLast()
        let metadata = String(line[head.upperBound..<bracket.lowerBound])
        let keys = metadata.matches(of: /(?:^| )([a-z_.]+)=/).map { String($0.output.1) }
        return (String(label), keys)
    }

    @Test func quotedLogLinesCarryLabelsAndMetadataKeysCdnsdUses() throws {
        let lines = try Self.textBlockLines().filter { !Self.messages(in: [$0]).isEmpty }
        let sources = try Self.sources()
        // Hummingbird's own request id is the one key cdnsd's sources do not name.
        let foreign: Set<String> = ["hb.request.id"]
        for line in lines {
            guard let (label, keys) = Self.labelAndKeys(of: line) else {
                Issue.record("\(line): no `LEVEL LABEL:` head or `[Module]`")
                continue
            }
            #expect(sources.contains("Logger(label: \"\(label)\")"), "\(line): no logger is labelled \(label)")
            for key in keys where !foreign.contains(key) {
                #expect(sources.contains("\"\(key)\":"), "\(line): no source logs the metadata key \(key)")
            }
        }
        // The negative cases: a label and a key no source uses are caught.
        let made = Self.labelAndKeys(of: "2026-12-03T18:00:00+0000 error cdnsd.listener: port=53 [DNSServer] DNS listener failed to bind")
        #expect(made?.label == "cdnsd.listener" && made?.keys == ["port"])
        #expect(!sources.contains("Logger(label: \"cdnsd.listener\")") && !sources.contains("\"port\":"))
    }

    @Test func quotedLogLinesAreOnesCdnsdLogs() throws {
        let lines = try Self.textBlockLines()
        let messages = Self.messages(in: lines)
        #expect(messages.count >= 10, "\(messages)")
        let sources = try Self.sources()
        for message in messages {
            #expect(sources.contains("\"\(message)\""), "\(message): no source logs this message")
        }
        for phrase in ["is not in a zone served here; add this record where it is served:", "cdnsd: added "] {
            #expect(sources.contains(phrase) && lines.contains { $0.contains(phrase) }, "\(phrase)")
        }
        // The negative case: a message no source logs is caught.
        #expect(!sources.contains("\"listener bound to a privileged port\""))
    }

    @Test func quotedConfigurationErrorsAreTheParsersOwn() throws {
        let lines = try Self.textBlockLines().filter { $0.hasPrefix("cdnsd: configuration error: ") }
        #expect(lines.count == 2)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad.toml").path
        try "[log]\nlevle = \"debug\"\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var printed: [String] = []
        do { _ = try CDNSConfiguration.load(file: file, environment: [:]) } catch {
            printed.append("cdnsd: configuration error: \(error)".replacingOccurrences(of: file, with: "bad.toml"))
        }
        do { _ = try CDNSConfiguration.load(file: nil, environment: ["CDNS_LOG_LEVL": "debug"]) } catch { printed.append("cdnsd: configuration error: \(error)") }
        #expect(printed == lines)
    }
}
