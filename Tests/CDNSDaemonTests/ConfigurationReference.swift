import Foundation
import Logging
@testable import CDNSDaemon

/// Docs/configuration.md read as data: one `### \`table.key\`` block per key
/// with `- Type:`, `- Default:`, `- Environment:` and `- Example:` followed
/// by a ```toml block. `problems(in:)` compares it with what the parser
/// knows (`CDNSConfiguration.keyTables`, the sets its unknown-key check
/// uses) and runs the examples and literal defaults through the parser.
enum ConfigurationReference {
    struct Entry {
        var path: String
        var type: String?
        var defaultText: String?
        var environment: String?
        var example: String?
    }

    static let documentURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Docs/configuration.md")

    static func document() throws -> String { try String(contentsOf: documentURL, encoding: .utf8) }

    /// Every key the parser accepts, as `table.key`.
    static var parserKeys: Set<String> {
        Set(CDNSConfiguration.keyTables.flatMap { table, keys in keys.map { "\(table).\($0)" } })
    }

    static func entries(in text: String) -> [Entry] {
        var entries: [Entry] = []
        var current: Entry?
        var inExample = false
        var fence: [String]?
        for line in text.components(separatedBy: "\n") {
            if var block = fence {
                if line.hasPrefix("```") {
                    if inExample, current?.example == nil { current?.example = block.joined(separator: "\n") }
                    fence = nil
                    inExample = false
                } else {
                    block.append(line)
                    fence = block
                }
                continue
            }
            if line.hasPrefix("```") { fence = []; continue }
            if line.hasPrefix("## ") || line.hasPrefix("### ") {
                if let current { entries.append(current) }
                current = nil
                inExample = false
                if line.hasPrefix("### `"), line.hasSuffix("`") {
                    current = Entry(path: String(line.dropFirst(5).dropLast()))
                }
                continue
            }
            guard current != nil else { continue }
            func field(_ name: String) -> String? {
                line.hasPrefix("- \(name):") ? line.dropFirst(name.count + 3).trimmingCharacters(in: .whitespaces) : nil
            }
            if let value = field("Type") { current?.type = value }
            if let value = field("Default") { current?.defaultText = value }
            if let value = field("Environment") { current?.environment = value }
            if field("Example") != nil { inExample = true }
        }
        if let current { entries.append(current) }
        return entries
    }

    /// The variable a key has, if any: `CDNS_<SECTION>_<KEY>` or `CDNS_ZONE_<N>_<KEY>`.
    static func variable(for path: String) -> String? {
        let parts = path.split(separator: ".").map(String.init)
        guard parts.count == 2 else { return nil }
        if CDNSConfiguration.sections[parts[0]] != nil { return "CDNS_\(parts[0].uppercased())_\(parts[1].uppercased())" }
        if parts[0] == "zone" { return "CDNS_ZONE_<N>_\(parts[1].uppercased())" }
        return nil
    }

    /// The choices a key's type must list, from the parser's enums.
    static let choices: [String: [String]] = [
        "dns.protocol": CDNSConfiguration.DNSProtocols.allCases.map(\.rawValue),
        "api.tls": CDNSConfiguration.TLSMode.allCases.map(\.rawValue),
        "storage.engine": CDNSConfiguration.StorageEngine.allCases.map(\.rawValue),
        "log.format": CDNSConfiguration.LogFormat.allCases.map(\.rawValue),
        "log.level": Logger.Level.allCases.map(\.rawValue),
    ]

    /// What is wrong with `text` as the reference of the parser; empty when it is right.
    static func problems(in text: String) -> [String] {
        var problems: [String] = []
        let entries = entries(in: text)
        var documented: Set<String> = []
        for entry in entries where !documented.insert(entry.path).inserted {
            problems.append("\(entry.path): documented twice")
        }
        for key in parserKeys.subtracting(documented).sorted() {
            problems.append("\(key): the parser accepts this key but Docs/configuration.md does not document it")
        }
        for key in documented.subtracting(parserKeys).sorted() {
            problems.append("\(key): documented in Docs/configuration.md but unknown to the parser")
        }
        for entry in entries where parserKeys.contains(entry.path) {
            for (name, value) in [("Type", entry.type), ("Default", entry.defaultText), ("Environment", entry.environment), ("Example", entry.example)] where value == nil {
                problems.append("\(entry.path): no \(name)")
            }
            if let environment = entry.environment {
                if let variable = variable(for: entry.path) {
                    if !environment.hasPrefix("`\(variable)`") { problems.append("\(entry.path): Environment should be `\(variable)`, is \(environment)") }
                } else if !environment.hasPrefix("none") {
                    problems.append("\(entry.path): has no variable of its own; Environment should say none, is \(environment)")
                }
            }
            if let expected = choices[entry.path], let type = entry.type {
                let listed = codeSpans(in: type)
                if Set(listed) != Set(expected) { problems.append("\(entry.path): Type lists \(listed), the parser takes \(expected)") }
            }
            if let example = entry.example, let problem = loadProblem(path: entry.path, fragment: example) {
                problems.append("\(entry.path): the example does not load: \(problem)")
            }
            if let defaultText = entry.defaultText, defaultText.hasPrefix("`"), let literal = codeSpans(in: defaultText).first,
               let problem = defaultProblem(path: entry.path, literal: literal) {
                problems.append("\(entry.path): default `\(literal)`: \(problem)")
            }
        }
        // Every CDNS_* name the page mentions must be one the parser takes.
        let known = CDNSConfiguration.environmentVariables.union(["CDNS_<SECTION>_<KEY>", "CDNS_ZONE_<N>_<KEY>"])
        for token in variableTokens(in: text) where !known.contains(token) {
            problems.append("\(token): mentioned in Docs/configuration.md but not a variable cdnsd reads")
        }
        return problems
    }

    static func codeSpans(in text: String) -> [String] {
        text.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
    }

    /// `CDNS_…` names in the text, zone indices written as `<N>`.
    static func variableTokens(in text: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: "CDNS_[A-Z0-9_<>]*[A-Z0-9>]")
        var tokens: Set<String> = []
        for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let range = Range(match.range, in: text) else { continue }
            tokens.insert(String(text[range]).replacingOccurrences(of: #"^CDNS_ZONE_[0-9]+_"#, with: "CDNS_ZONE_<N>_", options: .regularExpression))
        }
        return tokens
    }

    // MARK: Running fragments through the parser

    static let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="

    /// Keys assigned at the top level of a TOML fragment.
    static func assignedKeys(_ fragment: String) -> Set<String> {
        var keys: Set<String> = []
        for line in fragment.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard let equals = trimmed.firstIndex(of: "="), trimmed.first?.isLetter == true else { continue }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            if key.allSatisfy({ $0.isLetter || $0 == "_" }) { keys.insert(key) }
        }
        return keys
    }

    /// A whole configuration with `fragment` in the table of `path`, and
    /// what the environment must hold for it.
    static func configuration(path: String, fragment: String) -> (toml: String, environment: [String: String]) {
        let table = path.split(separator: ".").first.map(String.init) ?? ""
        let zone = "[[zone]]\nname = \"svc.dev\"\nnameservers = [\"dns.svc.dev\"]\nrecords = [\"dns.svc.dev. A 10.8.10.253\"]\n"
        var environment: [String: String] = [:]
        let assigned = assignedKeys(fragment)
        switch table {
        case "zone":
            var lines = ["[[zone]]"]
            if !assigned.contains("name") { lines.append("name = \"svc.dev\"") }
            return ((lines + [fragment]).joined(separator: "\n") + "\n", environment)
        case "tsig":
            var lines = ["[[tsig]]"]
            if !assigned.contains("name") { lines.append("name = \"doc-key\"") }
            if assigned.isDisjoint(with: ["secret", "secret_file", "secret_env"]) { lines.append("secret_env = \"DOC_TSIG_SECRET\"") }
            let transferKey = fragment.range(of: #"(?m)^\s*transfer\s*=\s*true"#, options: .regularExpression) != nil
            if !assigned.contains("allow") && !transferKey { lines.append("allow = [\"*.svc.dev\"]") }
            environment["DOC_TSIG_SECRET"] = secret
            if let match = fragment.range(of: #"secret_env\s*=\s*"([A-Za-z0-9_]+)""#, options: .regularExpression) {
                let name = fragment[match].split(separator: "\"").dropFirst().first.map(String.init) ?? ""
                environment[name] = secret
            }
            return (zone + "\n" + (lines + [fragment]).joined(separator: "\n") + "\n", environment)
        default:
            return (zone + "\n[\(table)]\n" + fragment + "\n", environment)
        }
    }

    static func load(_ toml: String, environment: [String: String]) -> Result<CDNSConfiguration, ConfigurationError> {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cdnsd-reference-\(UUID().uuidString.prefix(8)).toml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        do {
            try toml.write(toFile: file, atomically: true, encoding: .utf8)
        } catch {
            return .failure(ConfigurationError(source: file, key: "(file)", reason: "\(error)"))
        }
        do {
            return .success(try CDNSConfiguration.load(file: file, environment: environment, serial: 7))
        } catch {
            return .failure(error)
        }
    }

    /// nil when the fragment loads in its table (a `*_file` the example names
    /// may be missing here: "cannot read" is accepted for those).
    static func loadProblem(path: String, fragment: String) -> String? {
        let (toml, environment) = configuration(path: path, fragment: fragment)
        switch load(toml, environment: environment) {
        case .success: return nil
        case .failure(let error):
            if error.reason.hasPrefix("cannot read"), assignedKeys(fragment).contains(where: { $0.hasSuffix("_file") }) { return nil }
            return "\(error)"
        }
    }

    /// nil when setting the key to its documented default changes nothing.
    static func defaultProblem(path: String, literal: String) -> String? {
        let parts = path.split(separator: ".").map(String.init)
        let baseline: String
        let set: String
        if parts.count == 3 {  // zone.transfer.allow: inside the inline table
            baseline = "\(parts[1]) = {}"
            set = "\(parts[1]) = { \(parts[2]) = \(literal) }"
        } else {
            baseline = ""
            set = "\(parts[1]) = \(literal)"
        }
        let plain = configuration(path: path, fragment: baseline)
        let withDefault = configuration(path: path, fragment: set)
        switch (load(plain.toml, environment: plain.environment), load(withDefault.toml, environment: withDefault.environment)) {
        case (.failure(let error), _): return "the configuration without it does not load: \(error)"
        case (_, .failure(let error)): return "does not load: \(error)"
        case (.success(let a), .success(let b)):
            let (left, right) = (canonical(a), canonical(b))
            return left == right ? nil : "setting it changes the configuration (the parser's default differs)"
        }
    }

    /// A description of a value's stored properties, dictionaries sorted,
    /// leaving out where values came from (`origins`, `source`).
    static func canonical(_ value: Any) -> String {
        let mirror = Mirror(reflecting: value)
        if mirror.children.isEmpty { return String(describing: value) }
        var parts = mirror.children.filter { $0.label != "origins" && $0.label != "source" }.map { "\($0.label ?? "_"): \(canonical($0.value))" }
        if mirror.displayStyle == .dictionary || mirror.displayStyle == .set { parts.sort() }
        return "\(mirror.subjectType)(\(parts.joined(separator: ", ")))"
    }
}
