import Foundation
import Testing
@testable import CDNSDaemon

/// Docs/configuration.md against the parser: every key the parser accepts
/// is documented with type, default, variable and an example that loads,
/// and nothing else is; the negative cases show each check failing.
@Suite struct ConfigurationReferenceTests {
    @Test func documentMatchesTheParser() throws {
        let problems = ConfigurationReference.problems(in: try ConfigurationReference.document())
        #expect(problems.isEmpty, "Docs/configuration.md:\n\(problems.joined(separator: "\n"))")
    }

    @Test func everyDocumentedVariableIsAcceptedAndOthersAreNot() throws {
        for name in CDNSConfiguration.environmentVariables.sorted() {
            let concrete = name.replacingOccurrences(of: "<N>", with: "0")
            #expect(throws: Never.self, "\(concrete)") { _ = try EnvironmentOverrides([concrete: "x"]) }
        }
        for name in ["CDNS_DNS_LISTN", "CDNS_TSIG_NAME", "CDNS_ZONE_0_TRANSFER_ALLOW", "CDNS_BOGUS"] {
            #expect(throws: ConfigurationError.self, "\(name)") { _ = try EnvironmentOverrides([name: "x"]) }
        }
    }

    /// The keys come from the sets the parser refuses unknown keys with:
    /// a key outside them is refused by the parser itself.
    @Test func parserKeysAreTheOnesItRefusesOthersBy() {
        #expect(ConfigurationReference.parserKeys.contains("dns.listen"))
        #expect(ConfigurationReference.parserKeys.contains("zone.transfer.keys"))
        #expect(ConfigurationReference.parserKeys.contains("tsig.secret_env"))
        let refused = ConfigurationReference.load("[dns]\nlisten_address = \"127.0.0.1:53\"\n", environment: [:])
        guard case .failure(let error) = refused else { Issue.record("an unknown key loaded"); return }
        #expect(error.reason.hasPrefix("unknown key"))
    }

    // MARK: Negative cases: each kind of drift is reported.

    @Test func aParserKeyMissingFromTheDocumentFails() throws {
        let document = try ConfigurationReference.document()
        let start = try #require(document.range(of: "### `dns.tcp_connections`"))
        let end = try #require(document.range(of: "## `[[zone]]`"))
        let without = document.replacingCharacters(in: start.lowerBound..<end.lowerBound, with: "")
        let problems = ConfigurationReference.problems(in: without)
        #expect(problems.contains { $0.hasPrefix("dns.tcp_connections: the parser accepts this key but Docs/configuration.md does not document it") }, "\(problems)")
    }

    @Test func aDocumentedKeyTheParserDoesNotKnowFails() throws {
        let document = try ConfigurationReference.document() + """

            ### `dns.listen_backlog`

            - Type: whole number
            - Default: `128`
            - Environment: `CDNS_DNS_LISTEN_BACKLOG`
            - Example:

            ```toml
            listen_backlog = 256
            ```
            """
        let problems = ConfigurationReference.problems(in: document)
        #expect(problems.contains { $0.hasPrefix("dns.listen_backlog: documented in Docs/configuration.md but unknown to the parser") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("CDNS_DNS_LISTEN_BACKLOG: mentioned") }, "\(problems)")
    }

    @Test func aWrongDefaultABadExampleAndAWrongVariableFail() throws {
        var document = try ConfigurationReference.document()
        for (old, new) in [("- Default: `1000`\n- Environment: `CDNS_DNS_TCP_CONNECTIONS`", "- Default: `999`\n- Environment: `CDNS_DNS_TCP_CONNECTIONS`"),
                           ("tcp_idle_timeout = \"30s\"", "tcp_idle_timeout = \"2h\""),
                           ("- Environment: `CDNS_LOG_FORMAT`", "- Environment: `CDNS_LOGGING_FORMAT`"),
                           ("one of `text`, `json`", "one of `text`, `json`, `logfmt`")] {
            let range = try #require(document.range(of: old), "\(old)")
            document.replaceSubrange(range, with: new)
        }
        let problems = ConfigurationReference.problems(in: document)
        #expect(problems.contains { $0.hasPrefix("dns.tcp_connections: default `999`") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("dns.tcp_idle_timeout: the example does not load") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("log.format: Environment should be `CDNS_LOG_FORMAT`") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("log.format: Type lists") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("CDNS_LOGGING_FORMAT: mentioned") }, "\(problems)")
    }
}
