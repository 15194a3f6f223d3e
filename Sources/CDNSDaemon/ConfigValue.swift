import TOMLKit

/// A configuration value independent of where it came from (TOML or the
/// environment), with the source kept for error messages.
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

/// Reads typed keys from one table, producing `ConfigurationError`s that name
/// the source, the key path and the value.
struct ConfigReader {
    let source: String
    let path: String
    var entries: [String: ConfigValue]
    /// Keys this section accepts; anything else is reported as a typo.
    let known: Set<String>

    init(source: String, path: String, entries: [String: ConfigValue], known: Set<String>) throws(ConfigurationError) {
        self.source = source
        self.path = path
        self.entries = entries
        self.known = known
        for key in entries.keys.sorted() where !known.contains(key) {
            throw ConfigurationError(source: source, key: "\(path).\(key)", value: entries[key]?.description, reason: "unknown key; expected one of \(known.sorted().joined(separator: ", "))")
        }
    }

    func error(_ key: String, _ value: ConfigValue?, _ reason: String) -> ConfigurationError {
        ConfigurationError(source: source, key: "\(path).\(key)", value: value?.description, reason: reason)
    }

    func string(_ key: String, default fallback: String) throws(ConfigurationError) -> String {
        switch entries[key] {
        case nil: return fallback
        case .string(let text)?, .environment(let text)?: return text
        case let other?: throw error(key, other, "expected a string")
        }
    }

    func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let value = entries[key]
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

    func bool(_ key: String, default fallback: Bool) throws(ConfigurationError) -> Bool {
        switch entries[key] {
        case nil: return fallback
        case .bool(let flag)?: return flag
        case .environment(let text)?:
            switch text.lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw error(key, entries[key], "expected true or false")
            }
        case let other?: throw error(key, other, "expected true or false")
        }
    }

    /// A list of strings; from the environment, comma-separated.
    func strings(_ key: String, default fallback: [String]) throws(ConfigurationError) -> [String] {
        switch entries[key] {
        case nil: return fallback
        case .environment(let text)?:
            return text.split(separator: ",").map { $0.filter { $0 != " " && $0 != "\t" } }.filter { !$0.isEmpty }
        case .array(let items)?:
            var result: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item else { throw error("\(key)[\(index)]", item, "expected a string") }
                result.append(text)
            }
            return result
        case let other?: throw error(key, other, "expected a list of strings")
        }
    }

    func choice(_ key: String, default fallback: String, among options: [String]) throws(ConfigurationError) -> String {
        let value = try string(key, default: fallback)
        guard options.contains(value) else { throw error(key, entries[key], "expected one of \(options.joined(separator: ", "))") }
        return value
    }
}
