import ArgumentParser
import ChallengeAPI
import Foundation
import Logging
import ZoneStore

/// `cdnsd credential add|list|remove`: API credentials for lego's httpreq
/// API. Works on the configured store, also while the daemon runs (it
/// picks up the change within a second).
struct CredentialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credential",
        abstract: "Manage the credentials that may publish challenges through /present and /cleanup.",
        subcommands: [Add.self, List.self, Remove.self])

    /// Opens the configured store, runs `body`, and closes the store.
    /// With `directoryOnly`, the store holds accounts, credentials and
    /// keys alone (`ZoneRecordStore(directoryFrom:)`): opening it costs the
    /// same with a hundred records or a hundred thousand, and a running
    /// daemon's writes never wait for it to load them.
    static func withStore<T>(_ options: ConfigOptions, directoryOnly: Bool = false, _ body: (ZoneRecordStore) async throws -> T) async throws -> T {
        let configuration = try directoryOnly ? options.loadWithoutRecords() : options.load()
        var logger = Logger(label: "cdnsd")
        logger.logLevel = .warning
        let storage = try await StoreSetup.open(configuration, logger: logger, watchExternalWrites: false, directoryOnly: directoryOnly)
        do {
            let result = try await body(storage.store)
            await storage.shutdown()
            return result
        } catch {
            await storage.shutdown()
            throw error
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a credential (or replace its secret) and print the generated secret once.",
            discussion: """
                Example: cdnsd credential add team --allow '*.team.svc.dev' --from 10.0.0.0/8
                Then: HTTPREQ_USERNAME=team HTTPREQ_PASSWORD=<secret> lego --dns httpreq ...
                A pattern `*.NAME` allows every name below NAME and the wildcard *.NAME itself;
                `NAME` allows that name only; `*` allows every name in the served zones.
                """)

        @OptionGroup var options: ConfigOptions
        @Argument(help: "Credential name, used as the basic-auth user name.") var name: String
        @Option(name: .customLong("allow"), help: "Name pattern it may publish challenges for (repeatable).") var patterns: [String] = []
        @Option(name: .customLong("from"), help: "CIDR requests may come from (repeatable; none allows every source).") var sources: [String] = []

        func validate() throws {
            guard !name.isEmpty, !name.contains(":"), name.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw ValidationError("a credential name is ASCII without spaces or ':' (it is the basic-auth user name)")
            }
            guard !patterns.isEmpty else { throw ValidationError("give at least one --allow pattern, e.g. --allow '*.team.svc.dev'") }
            for pattern in patterns where NamePattern(pattern) == nil {
                throw ValidationError("--allow \(pattern): expected NAME, *.NAME or *")
            }
            for source in sources where IPNetwork(source) == nil {
                throw ValidationError("--from \(source): expected a CIDR such as 10.0.0.0/8")
            }
        }

        func run() async throws {
            let secret = SecretGenerator.password()
            let hash = try await SecretGenerator.hash(secret)
            try await CredentialCommand.withStore(options, directoryOnly: true) { store in
                try await store.putCredential(APICredential(name: name, secretHash: hash, allowedNames: patterns, allowedSources: sources))
            }
            print("credential: \(name)")
            print("secret: \(secret)")
            FileHandle.standardError.write(Data("cdnsd: the secret is shown only now; it is stored as a bcrypt hash\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List credentials with their name patterns and sources.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let credentials = try await CredentialCommand.withStore(options, directoryOnly: true) { store in store.credentials().filter { !AdminToken.isAdmin($0) } }
            if credentials.isEmpty { print("no credentials") }
            for credential in credentials.sorted(by: { $0.name < $1.name }) {
                let sources = credential.allowedSources.isEmpty ? "any" : credential.allowedSources.joined(separator: ",")
                print("\(credential.name)\tallow=\(credential.allowedNames.joined(separator: ","))\tfrom=\(sources)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a credential; its requests are refused from then on.")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "Credential name.") var name: String

        func run() async throws {
            let removed = try await CredentialCommand.withStore(options, directoryOnly: true) { store in try await store.removeCredential(name: name) }
            guard removed else {
                FileHandle.standardError.write(Data("cdnsd: no credential named \(name)\n".utf8))
                throw ExitCode(1)
            }
            print("removed credential \(name)")
        }
    }
}
