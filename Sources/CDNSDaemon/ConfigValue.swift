import DNSWire
import Foundation
import TOMLKit

/// A configuration value independent of where it came from (TOML or the
/// environment).
indirect enum ConfigValue: Sendable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case bool(Bool)
    case double(Double)
    case array([ConfigValue])
    case table([String: ConfigValue])
    /// Raw text from an environment variable, coerced to the type a key wants.
    case environment(String)

    init(toml value: any TOMLValueConvertible) {
        switch value.type {
        case .string: self = .string(value.string ?? "")
        case .int: self = .int(value.int ?? 0)
        case .bool: self = .bool(value.bool ?? false)
        case .double: self = .double(value.double ?? 0)
        case .array: self = .array((value.array.map(Array.init) ?? []).map { ConfigValue(toml: $0) })
        case .table:
            var entries: [String: ConfigValue] = [:]
            if let table = value.table {
                for key in table.keys { if let item = table[key] { entries[key] = ConfigValue(toml: item) } }
            }
            self = .table(entries)
        default: self = .string(value.debugDescription)
        }
    }

    var description: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .int(let number): "\(number)"
        case .bool(let flag): "\(flag)"
        case .double(let number): "\(number)"
        case .array(let items): "[\(items.map(\.description).joined(separator: ", "))]"
        case .table: "{…}"
        case .environment(let text): "\"\(text)\""
        }
    }
}

/// One key's value and where it was set: the file, or the `CDNS_*`
/// variable that overrode it. Errors name that origin, not the section's.
struct ConfigEntry: Sendable {
    var value: ConfigValue
    /// The file path, or `environment (CDNS_…)`.
    var origin: String

    static func variable(_ name: String, _ text: String) -> ConfigEntry {
        ConfigEntry(value: .environment(text), origin: "environment (\(name))")
    }
}

/// Reads typed keys from one table, producing `ConfigurationError`s that name
/// where the offending value was set, the key path and the value.
struct ConfigReader {
    /// Where a key with no entry is blamed (the file, or the built-in demo).
    let source: String
    let path: String
    var entries: [String: ConfigEntry]
    /// Keys this section accepts; anything else is reported as a typo.
    let known: Set<String>

    init(source: String, path: String, entries: [String: ConfigEntry], known: Set<String>) throws(ConfigurationError) {
        self.source = source
        self.path = path
        self.entries = entries
        self.known = known
        // A table whose keys are not in `CDNSConfiguration.keyTables` would
        // escape the reference test of Docs/configuration.md: declare it there.
        assert(CDNSConfiguration.keyTables.values.contains(known), "ConfigReader for \(path): its keys are not in CDNSConfiguration.keyTables")
        for key in entries.keys.sorted() where !known.contains(key) {
            throw ConfigurationError(source: entries[key]?.origin ?? source, key: "\(path).\(key)", value: entries[key]?.value.description,
                                     reason: "unknown key; expected one of \(known.sorted().joined(separator: ", "))")
        }
    }

    /// Where `key` was set, or the file when it was not.
    func origin(_ key: String) -> String { entries[key]?.origin ?? source }

    /// An error about `key` (or an element of it, `display`), blamed on
    /// where `blame` (default: `key`) was set.
    func error(_ key: String, _ value: ConfigValue?, _ reason: String, display: String? = nil, blame: String? = nil) -> ConfigurationError {
        ConfigurationError(source: origin(blame ?? key), key: "\(path).\(display ?? key)", value: value?.description, reason: reason)
    }

    func value(_ key: String) -> ConfigValue? { entries[key]?.value }

    func string(_ key: String, default fallback: String) throws(ConfigurationError) -> String {
        switch value(key) {
        case nil: return fallback
        case .string(let text)?, .environment(let text)?: return text
        case let other?: throw error(key, other, "expected a string")
        }
    }

    func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let value = value(key)
        let number: Int
        switch value {
        case nil: return fallback
        case .int(let parsed)?: number = parsed
        case .environment(let text)?:
            guard let parsed = Int(text) else { throw error(key, value, "expected a whole number") }
            number = parsed
        case let other?: throw error(key, other, "expected a whole number")
        }
        guard range.contains(number) else { throw error(key, value, "must be between \(range.lowerBound) and \(range.upperBound)") }
        return number
    }

    /// Seconds: a TOML integer, or text such as `90s`, `30m`, `1h`, `2d`
    /// (zone-file units; plain digits are seconds), within `range`.
    func duration(_ key: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let value = value(key)
        let seconds: Int
        let expected = "expected seconds (an integer) or a duration such as 90s, 30m, 1h or 1d"
        switch value {
        case nil: return fallback
        case .int(let number)?: seconds = number
        case .string(let text)?, .environment(let text)?:
            guard let parsed = ResourceRecord.parseTTL(text.trimmingCharacters(in: .whitespaces)) else { throw error(key, value, expected) }
            seconds = Int(parsed)
        case let other?: throw error(key, other, expected)
        }
        guard range.contains(seconds) else {
            throw error(key, value, "must be between \(Self.describe(seconds: range.lowerBound)) and \(Self.describe(seconds: range.upperBound))")
        }
        return seconds
    }

    static func describe(seconds: Int) -> String {
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60)] where seconds >= size && seconds % size == 0 { return "\(seconds / size)\(unit)" }
        return "\(seconds)s"
    }

    func bool(_ key: String, default fallback: Bool) throws(ConfigurationError) -> Bool {
        switch value(key) {
        case nil: return fallback
        case .bool(let flag)?: return flag
        case .environment(let text)?:
            switch text.lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw error(key, value(key), "expected true or false")
            }
        case let other?: throw error(key, other, "expected true or false")
        }
    }

    /// A list of strings; from the environment, comma-separated (a comma
    /// inside double quotes does not split), each item trimmed.
    func strings(_ key: String, default fallback: [String]) throws(ConfigurationError) -> [String] {
        switch value(key) {
        case nil: return fallback
        case .environment(let text)?:
            return Self.splitList(text)
        case .array(let items)?:
            var result: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item else { throw error(key, item, "expected a string", display: "\(key)[\(index)]") }
                result.append(text)
            }
            return result
        case let other?: throw error(key, other, "expected a list of strings")
        }
    }

    static func splitList(_ text: String) -> [String] {
        var items: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for char in text {
            if escaped {
                escaped = false
            } else if char == "\\" {
                escaped = true
            } else if char == "\"" {
                quoted.toggle()
            } else if char == ",", !quoted {
                items.append(current)
                current = ""
                continue
            }
            current.append(char)
        }
        items.append(current)
        return items.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// One of an enum's raw values; the error lists them all.
    func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, default fallback: Choice) throws(ConfigurationError) -> Choice where Choice.RawValue == String {
        let text = try string(key, default: fallback.rawValue)
        guard let choice = Choice(rawValue: text) else {
            throw error(key, value(key), "expected one of \(Choice.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
        }
        return choice
    }
}
