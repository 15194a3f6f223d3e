import ACMEClient
import Foundation
import Logging
import ZoneStore

/// Issues certificates from the configured ACME directory (`[acme]`) with
/// dns-01 solved through cdnsd's store. Shared by the API's own
/// certificate, `cdnsd cert issue` and the renewal of managed certificates;
/// the caller decides where the result is kept.
struct CertificateIssuer: Sendable {
    let configuration: CDNSConfiguration
    let files: CertificateFiles
    let solver: StoreDNS01Solver
    let logger: Logger

    init(configuration: CDNSConfiguration, solver: StoreDNS01Solver, logger: Logger) throws(ConfigurationError) {
        try configuration.checkACME()
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

    /// Orders a certificate for `names` with a new key and returns the
    /// chain and key PEM.
    func issue(_ names: [String], keyType: PrivateKey.Algorithm = .p256, progress: @escaping @Sendable (String) -> Void) async throws -> (chain: String, key: String) {
        let client = try client()
        do {
            let acme = configuration.acme
            progress("account at \(acme.directory)")
            try await client.account(email: acme.email, externalAccountBinding: acme.eabKID.isEmpty ? nil : (acme.eabKID, acme.eabHMACKey))
            let key = try PrivateKey(generating: keyType)
            let chain = try await client.issue(names: names, certificateKey: key, solver: solver, progress: progress)
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
