import ACMEClient
import Foundation
import Logging
import ZoneStore

/// Issues certificates from the configured ACME directory (`[acme]`) with
/// dns-01 solved through cdnsd's store, and keeps them in `CertificateFiles`.
/// Shared by the API's own certificate and `cdnsd cert issue`.
struct CertificateIssuer: Sendable {
    let configuration: CDNSConfiguration
    let files: CertificateFiles
    let solver: StoreDNS01Solver
    let logger: Logger

    init(configuration: CDNSConfiguration, solver: StoreDNS01Solver, logger: Logger) throws(ConfigurationError) {
        guard !configuration.acme.directory.isEmpty else {
            throw ConfigurationError(source: configuration.source, key: "acme.directory", value: "\"\"",
                                     reason: "needed to order certificates, e.g. https://ca.svc.dev/acme/acme/directory")
        }
        if configuration.acme.eabKID.isEmpty != configuration.acme.eabHMACKey.isEmpty {
            throw ConfigurationError(source: configuration.source, key: "acme.eab_kid", reason: "set both eab_kid and eab_hmac_key, or neither")
        }
        self.configuration = configuration
        self.files = CertificateFiles(configuration: configuration)
        self.solver = solver
        self.logger = logger
    }

    /// A client for the directory with the stored account key; shut it down after use.
    func client() throws -> ACMEClient {
        let acme = configuration.acme
        return try ACMEClient(directoryURL: acme.directory, accountKey: try files.accountKey(), trustRoots: acme.caRoots.isEmpty ? nil : acme.caRoots,
                              logger: logger)
    }

    /// Orders a certificate for `names` with a new key, stores it, and
    /// returns the chain and key PEM.
    func issue(_ names: [String], keyType: PrivateKey.Algorithm = .p256, progress: @escaping @Sendable (String) -> Void) async throws -> (chain: String, key: String) {
        let client = try client()
        do {
            let acme = configuration.acme
            progress("account at \(acme.directory)")
            try await client.account(email: acme.email, externalAccountBinding: acme.eabKID.isEmpty ? nil : (acme.eabKID, acme.eabHMACKey))
            let key = try PrivateKey(generating: keyType)
            let chain = try await client.issue(names: names, certificateKey: key, solver: solver, progress: progress)
            try files.store(names[0], chain: chain, key: key.pem)
            progress("stored \(files.chainPath(names[0])) and \(files.keyPath(names[0]))")
            await client.shutdown()
            return (chain, key.pem)
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// When the chain should be renewed (ARI when offered, else 2/3 of its life).
    func renewalTime(_ chain: String) async -> Date {
        guard let client = try? client() else { return Date() }
        let time = await client.renewalTime(for: chain)
        await client.shutdown()
        return time
    }
}
