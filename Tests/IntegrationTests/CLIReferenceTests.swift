import CDNSTestSupport
import Foundation
import Testing

/// Docs/cli.md against `cdnsd <command> --help`: every command the help
/// lists (walked from `cdnsd --help` down), every flag and argument of
/// each, and each `(default: …)` must be in the page, and the page may name
/// nothing the help does not show. The negative cases show each check failing.
@Suite(.blocking) struct CLIReferenceTests {
    /// What `--help` says about one command.
    struct Help: Equatable {
        var subcommands: [String] = []
        /// `--long` or `<argument>` → the default the help shows, if any.
        var items: [String: String?] = [:]
    }

    static func parse(help text: String) -> Help {
        var help = Help()
        var section = ""
        var current: String?
        var entry = ""
        func finish() {
            if let current {
                let range = entry.range(of: #"\(default: [^)]*\)"#, options: .regularExpression)
                // updateValue: assigning nil through the subscript would remove the key.
                help.items.updateValue(range.map { String(entry[$0].dropFirst("(default: ".count).dropLast()) }, forKey: current)
            }
            current = nil
            entry = ""
        }
        for line in text.components(separatedBy: "\n") {
            if let header = line.range(of: #"^[A-Z][A-Z ]*:$"#, options: .regularExpression) {
                finish()
                section = String(line[header].dropLast())
                continue
            }
            let isEntry = line.hasPrefix("  ") && !line.hasPrefix("   ")
            if isEntry || line.trimmingCharacters(in: .whitespaces).isEmpty { finish() }
            let body = line.trimmingCharacters(in: .whitespaces)
            switch section {
            case "SUBCOMMANDS" where isEntry:
                if let name = body.range(of: #"^[a-z0-9-]+"#, options: .regularExpression) { help.subcommands.append(String(body[name])) }
            case "OPTIONS" where isEntry:
                if let long = body.range(of: #"--[a-z0-9-]+"#, options: .regularExpression), body[long] != "--help" {
                    current = String(body[long])
                    entry = body
                }
            case "ARGUMENTS" where isEntry:
                if let argument = body.range(of: #"^<[^>]+>"#, options: .regularExpression) {
                    current = String(body[argument])
                    entry = body
                }
            case "OPTIONS", "ARGUMENTS":
                if current != nil { entry += " " + body }
            default: break
            }
        }
        finish()
        return help
    }

    /// The page's `### \`cdnsd …\`` blocks: command → its table rows' first
    /// cells' flags and arguments, and the whole row text by item.
    static func sections(of page: String) -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        var command: String?
        for line in page.components(separatedBy: "\n") {
            if line.hasPrefix("#") {
                command = nil
                if line.hasPrefix("### `cdnsd"), line.hasSuffix("`") {
                    let name = String(line.dropFirst(5).dropLast())
                    command = name
                    result[name] = result[name] ?? [:]
                }
                continue
            }
            guard let command, line.hasPrefix("| `") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: true)
            guard let first = cells.first else { continue }
            let regex = try! NSRegularExpression(pattern: #"--[a-z0-9-]+|^\s*`<[^>]+>`"#)
            let text = String(first)
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                guard let range = Range(match.range, in: text) else { continue }
                let item = text[range].trimmingCharacters(in: CharacterSet(charactersIn: " `"))
                if item != "--help" { result[command, default: [:]][item] = line }
            }
        }
        return result
    }

    /// Every command path `--help` lists, with its help.
    static func helpTree() throws -> [String: Help] {
        var tree: [String: Help] = [:]
        var pending: [[String]] = [[]]
        while let path = pending.popLast() {
            let run = try ManagedProcess.run(Programs.cdnsd, path + ["--help"])
            guard run.status == 0 else { throw TestSetupError("cdnsd \(path.joined(separator: " ")) --help: \(run.status)\n\(run.output)") }
            let help = parse(help: run.output)
            tree["cdnsd" + path.map { " " + $0 }.joined()] = help
            pending += help.subcommands.map { path + [$0] }
        }
        return tree
    }

    static func problems(page: String, tree: [String: Help]) -> [String] {
        var problems: [String] = []
        let documented = sections(of: page)
        for command in Set(tree.keys).subtracting(documented.keys).sorted() {
            problems.append("\(command): listed by --help but has no section in Docs/cli.md")
        }
        for command in Set(documented.keys).subtracting(tree.keys).sorted() {
            problems.append("\(command): documented in Docs/cli.md but --help lists no such command")
        }
        for (command, help) in tree.sorted(by: { $0.key < $1.key }) {
            guard let rows = documented[command] else { continue }
            for item in Set(help.items.keys).subtracting(rows.keys).sorted() {
                problems.append("\(command) \(item): shown by --help but not in Docs/cli.md")
            }
            for item in Set(rows.keys).subtracting(help.items.keys).sorted() {
                problems.append("\(command) \(item): in Docs/cli.md but --help does not show it")
            }
            for (item, value) in help.items.sorted(by: { $0.key < $1.key }) {
                guard let value, let row = rows[item] else { continue }
                let plain = row.replacingOccurrences(of: "`", with: "")
                if !plain.contains("default \(value)") { problems.append("\(command) \(item): --help says default \(value); Docs/cli.md does not") }
            }
        }
        return problems
    }

    static var page: String {
        get throws { try String(contentsOf: Programs.repositoryRoot.appendingPathComponent("Docs/cli.md"), encoding: .utf8) }
    }

    @Test func pageMatchesHelp() throws {
        let tree = try Self.helpTree()
        #expect(tree.count > 30, "\(tree.keys.sorted())")
        #expect(tree["cdnsd tsig add"]?.items.keys.contains("--transfer") == true)
        let problems = Self.problems(page: try Self.page, tree: tree)
        #expect(problems.isEmpty, "Docs/cli.md:\n\(problems.joined(separator: "\n"))")
    }

    @Test func undocumentedOrUnknownFlagsAndCommandsFail() throws {
        let tree = try Self.helpTree()
        var page = try Self.page
        // A flag the help shows, dropped from the page; one the help does not
        // know, added; a default changed; a command's section removed.
        for (old, new) in [("| `--allow-md5` | Accept hmac-md5 for this key (broken; for old clients only). |\n", ""),
                           ("| `--dry-run` |", "| `--dry-run`, `--force` |"),
                           ("default `0644`", "default `0640`"),
                           ("### `cdnsd zone list`", "### zone list")] {
            let range = try #require(page.range(of: old), "\(old)")
            page.replaceSubrange(range, with: new)
        }
        page += "\n### `cdnsd zone rename`\n\n| flag or argument | meaning |\n|---|---|\n| `<name>` | x |\n"
        let problems = Self.problems(page: page, tree: tree)
        for expected in ["cdnsd tsig add --allow-md5: shown by --help but not in Docs/cli.md",
                         "cdnsd import acme-dns --force: in Docs/cli.md but --help does not show it",
                         "cdnsd cert issue --cert-mode: --help says default 0644",
                         "cdnsd zone list: listed by --help but has no section",
                         "cdnsd zone rename: documented in Docs/cli.md but --help lists no such command"] {
            #expect(problems.contains { $0.hasPrefix(expected) }, "\(expected) not in \(problems)")
        }
    }

    @Test func helpParserReadsWrappedEntries() {
        let help = Self.parse(help: """
            USAGE: cdnsd zone add <name> [--nameserver <nameserver> ...]

            ARGUMENTS:
              <name>                  The zone's apex.

            OPTIONS:
              -c, --config <config>   TOML configuration file. Without it, the built-in
                                      demo zone is served.
              --nameserver <nameserver>
                                      Apex NS target (repeatable).
              --ttl <ttl>             TTL of the SOA and NS records and default TTL of
                                      records. (default: 3600)
              -h, --help              Show help information.

            """)
        #expect(help.items == ["<name>": nil, "--config": nil, "--nameserver": nil, "--ttl": "3600"])
    }
}
