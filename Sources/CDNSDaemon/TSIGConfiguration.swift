import DNSServer
import DNSWire
import Foundation
import ZoneStore

/// `[[tsig]]` tables: static TSIG keys defined in the configuration file
/// beside the ones `cdnsd tsig add` keeps in the store. The secret comes
/// from a file or an environment variable, so the configuration itself
/// can be world-readable, version-controlled or templated:
///
/// ```toml
/// [[tsig]]
/// name = "dhcp"                        # the key name clients send
/// algorithm = "hmac-sha256"            # default
/// secret_file = "/etc/cdnsd/dhcp.key"  # base64, or a BIND key file (tsig-keygen)
/// # secret_env = "DHCP_TSIG_SECRET"    # or: base64 in this environment variable
/// allow = ["*.hosts.svc.dev"]
/// from = ["10.8.10.0/24"]              # default: any source
/// types = ["A", "AAAA"]                # default: TXT
/// names = true                         # default false: _acme-challenge TXT only
/// allow_md5 = false
/// # transfer = true                   # a key for secondaries: zone transfers and NOTIFY, never UPDATE
/// ```
///
/// `secret = "…"` inline is refused unless the table also says
/// `inline_secret = true`.
extension CDNSConfiguration {
    static let tsigTableKeys: Set<String> = [
        "name", "algorithm", "secret_file", "secret_env", "secret", "inline_secret", "allow", "from", "types", "names", "allow_md5", "transfer",
    ]

    /// The keys of every `[[tsig]]` table, secrets read and checked.
    static func staticTSIGKeys(_ value: ConfigValue?, source: String, environment: [String: String]) throws(ConfigurationError) -> [TSIGKey] {
        let items: [ConfigValue]
        switch value {
        case nil: return []
        case .array(let list)?: items = list
        case let other?: throw ConfigurationError(source: source, key: "tsig", value: other.description, reason: "expected [[tsig]] tables")
        }
        var keys: [TSIGKey] = []
        for (index, item) in items.enumerated() {
            guard case .table(let table) = item else {
                throw ConfigurationError(source: source, key: "tsig[\(index)]", value: item.description, reason: "expected a [[tsig]] table")
            }
            let key = try tsigKey(table, index: index, source: source, environment: environment)
            if keys.contains(where: { $0.name == key.name }) {
                throw ConfigurationError(source: source, key: "tsig[\(index)].name", value: "\"\(key.name)\"", reason: "key defined twice")
            }
            keys.append(key)
        }
        return keys
    }

    static func tsigKey(_ table: [String: ConfigValue], index: Int, source: String, environment: [String: String]) throws(ConfigurationError) -> TSIGKey {
        // The inline secret never goes into an error message.
        var shown = table
        if shown["secret"] != nil { shown["secret"] = .string("(hidden)") }
        let reader = try ConfigReader(source: source, path: "tsig[\(index)]", entries: shown.mapValues { ConfigEntry(value: $0, origin: source) }, known: tsigTableKeys)
        guard case .string(let nameText)? = table["name"], !nameText.isEmpty, nameText != ".", let name = try? DNSName(nameText) else {
            throw reader.error("name", table["name"], "every [[tsig]] needs a key name, e.g. name = \"certbot\"")
        }
        let algorithmText = try reader.string("algorithm", default: "hmac-sha256")
        guard let algorithm = TSIGAlgorithm(text: algorithmText) else {
            throw reader.error("algorithm", table["algorithm"], "expected hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1 or hmac-md5")
        }
        let allowMD5 = try reader.bool("allow_md5", default: false)
        if algorithm == .hmacMD5 && !allowMD5 {
            throw reader.error("algorithm", table["algorithm"], "hmac-md5 is broken; add allow_md5 = true if an old client needs it")
        }

        let file = try reader.string("secret_file", default: "")
        let variable = try reader.string("secret_env", default: "")
        let inline = table["secret"] != nil
        let given = [!file.isEmpty, !variable.isEmpty, inline].filter { $0 }.count
        guard given == 1 else {
            throw reader.error("secret_file", nil, given == 0
                ? "give the key's secret as secret_file = \"PATH\" (base64 or a BIND key file) or secret_env = \"VARIABLE\""
                : "give exactly one of secret_file, secret_env and secret")
        }
        let encoded: String
        let origin: String
        if !file.isEmpty {
            let path = file.hasPrefix("/") || source == "built-in demo configuration"
                ? file : URL(fileURLWithPath: source).deletingLastPathComponent().appendingPathComponent(file).path
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw reader.error("secret_file", .string(file), "cannot read: \(error.localizedDescription)")
            }
            guard let secret = Self.secretText(in: text) else {
                throw reader.error("secret_file", .string(file), "expected the base64 secret, or a BIND key clause (key \"NAME\" { algorithm …; secret \"…\"; };)")
            }
            encoded = secret
            origin = "file \(path)"
        } else if !variable.isEmpty {
            guard let value = environment[variable], !value.isEmpty else {
                throw reader.error("secret_env", .string(variable), "the environment variable \(variable) is not set")
            }
            encoded = value.trimmingCharacters(in: .whitespacesAndNewlines)
            origin = "environment \(variable)"
        } else {
            guard try reader.bool("inline_secret", default: false) else {
                throw reader.error("secret", nil, "an inline secret is refused by default: use secret_file or secret_env (or set inline_secret = true)")
            }
            guard case .string(let text)? = table["secret"] else { throw reader.error("secret", nil, "expected the base64 secret as a string") }
            encoded = text
            origin = "the configuration file"
        }
        guard let secret = Base64.decode(encoded), !secret.isEmpty else {
            throw reader.error(inline ? "secret" : !file.isEmpty ? "secret_file" : "secret_env", nil, "the secret from \(origin) is not base64")
        }

        let transfer = try reader.bool("transfer", default: false)
        let patterns = try reader.strings("allow", default: [])
        if transfer {
            for key in ["allow", "types", "names"] where table[key] != nil {
                throw reader.error(key, table[key], "a transfer key (transfer = true) signs zone transfers and NOTIFY only: it takes no \(key)")
            }
        } else if patterns.isEmpty {
            throw reader.error("allow", table["allow"], "give at least one name pattern, e.g. allow = [\"*.svc.dev\"] (or transfer = true for a key of secondaries)")
        }
        for (position, pattern) in patterns.enumerated() where NamePattern(pattern) == nil {
            throw reader.error("allow[\(position)]", .string(pattern), "expected NAME, *.NAME or *")
        }
        let sources = try reader.strings("from", default: [])
        for (position, text) in sources.enumerated() where IPNetwork(text) == nil {
            throw reader.error("from[\(position)]", .string(text), "expected a CIDR such as 10.0.0.0/8 or an address")
        }
        let names = try reader.bool("names", default: false)
        var types: [RRType] = []
        for (position, mnemonic) in try reader.strings("types", default: ["TXT"]).enumerated() {
            guard let type = RRType(mnemonic: mnemonic), type != .soa, !type.isMetaType else {
                throw reader.error("types[\(position)]", .string(mnemonic), "expected a record type a key may change, such as TXT, A, AAAA or CNAME")
            }
            if type != .txt && !names {
                throw reader.error("types[\(position)]", .string(mnemonic), "types other than TXT need names = true (challenge names hold TXT only)")
            }
            types.append(type)
        }
        return TSIGKey(name: name, algorithm: algorithm.name, secret: secret, allowedNames: patterns, allowedSources: sources,
                       allowedTypes: types, challengeNamesOnly: !names, transferOnly: transfer, allowMD5: allowMD5)
    }

    /// The base64 secret of a key file: the whole text, or the `secret "…";`
    /// of a BIND key clause (what `tsig-keygen` and `cdnsd tsig add` print).
    static func secretText(in text: String) -> String? {
        if let range = text.range(of: "secret") {
            let rest = text[range.upperBound...]
            guard let open = rest.firstIndex(of: "\""), let close = rest[rest.index(after: open)...].firstIndex(of: "\"") else { return nil }
            return String(rest[rest.index(after: open)..<close])
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}
