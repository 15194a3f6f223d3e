/// A configuration problem, naming where it came from, the key and the value.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// The file, or `environment` for a `CDNS_*` variable.
    public var source: String
    /// `section.key`, e.g. `dns.listen` or `zone[0].records[2]`.
    public var key: String
    /// The offending value as written, if there was one.
    public var value: String?
    public var reason: String

    public init(source: String, key: String, value: String? = nil, reason: String) {
        self.source = source
        self.key = key
        self.value = value
        self.reason = reason
    }

    public var description: String {
        var text = "\(source): \(key)"
        if let value { text += " = \(value)" }
        return text + ": \(reason)"
    }
}
