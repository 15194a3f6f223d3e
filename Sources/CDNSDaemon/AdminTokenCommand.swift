import ArgumentParser
import ChallengeAPI
import Foundation
import ZoneStore

/// `cdnsd admin-token add|list|remove`: the credentials of the admin API
/// (`/admin/v1/…`), apart from acme-dns accounts and httpreq credentials.
struct AdminTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-token",
        abstract: "Manage the tokens of the admin API (Authorization: Bearer NAME.SECRET).",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an admin token (or replace its secret) and print it once.",
            discussion: "Example: cdnsd admin-token add ops; cdnsd admin-token add dashboards --read-only")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "Token name: letters, digits, - and _.") var name: String
        @Flag(name: .customLong("read-only"), help: "May only read (GET); writes are refused with 403.") var readOnly = false
        @Option(name: .customLong("from"), help: "CIDR requests may come from (repeatable; none allows every source).") var sources: [String] = []

        func validate() throws {
            guard AdminToken.isValidName(name) else { throw ValidationError("an admin token name is 1-64 letters, digits, - or _") }
            for source in sources where IPNetwork(source) == nil {
                throw ValidationError("--from \(source): expected a CIDR such as 10.0.0.0/8")
            }
        }

        func run() async throws {
            let secret = SecretGenerator.password()
            let hash = try await SecretGenerator.hash(secret)
            try await CredentialCommand.withStore(options, directoryOnly: true) { store in
                try await store.putCredential(APICredential(
                    name: AdminToken.credentialName(name), secretHash: hash,
                    allowedNames: [readOnly ? AdminToken.readOnly : AdminToken.readWrite], allowedSources: sources))
            }
            print("admin token: \(name) (\(readOnly ? "read-only" : "read-write"))")
            print("token: \(name).\(secret)")
            FileHandle.standardError.write(Data("cdnsd: the token is shown only now; it is stored as a bcrypt hash\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List admin tokens with their access and sources.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let tokens = try await CredentialCommand.withStore(options, directoryOnly: true) { store in store.credentials().filter(AdminToken.isAdmin) }
            if tokens.isEmpty { print("no admin tokens") }
            for token in tokens {
                let access = token.allowedNames.contains(AdminToken.readWrite) ? "read-write" : "read-only"
                print("\(token.name.dropFirst(AdminToken.prefix.count))\t\(access)\tfrom=\(token.allowedSources.isEmpty ? "any" : token.allowedSources.joined(separator: ","))")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an admin token; its requests are refused from then on.")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "Token name.") var name: String

        func run() async throws {
            let removed = try await CredentialCommand.withStore(options, directoryOnly: true) { store in try await store.removeCredential(name: AdminToken.credentialName(name)) }
            guard removed else {
                FileHandle.standardError.write(Data("cdnsd: no admin token named \(name)\n".utf8))
                throw ExitCode(1)
            }
            print("removed admin token \(name)")
        }
    }
}
