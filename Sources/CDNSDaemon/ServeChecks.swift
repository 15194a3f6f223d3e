import ACMEClient
import ChallengeAPI
import DNSServer
import DNSWire
import Foundation

/// What `serve` needs beyond a well-formed file: settings that only make
/// sense together, and files that must be readable. `serve` runs these
/// checks before it opens anything and `check-config` runs the same ones,
/// so both reject a configuration with the same message.
extension CDNSConfiguration {
    public func checkForServe() throws(ConfigurationError) {
        try checkStorage()
        try checkCrypto()
        guard api.listen != nil else { return }
        switch api.tls {
        case .none: break
        case .file: _ = try apiCertificatePair()
        case .acme:
            guard !api.domain.isEmpty else {
                throw ConfigurationError(source: api.origins["domain"] ?? api.origins["tls"] ?? source, key: "api.domain", value: "\"\"",
                                         reason: "tls = \"acme\" needs the API's name, e.g. domain = \"dns.svc.dev\"")
            }
            guard let name = try? DNSName(api.domain), zones.contains(where: { name.isSubdomain(of: $0.origin) }) else {
                throw ConfigurationError(source: api.origins["domain"] ?? source, key: "api.domain", value: "\"\(api.domain)\"",
                                         reason: "tls = \"acme\" solves dns-01 through cdnsd's own zones: the name must be inside one of the [[zone]]s")
            }
            try checkACME()
        }
    }

    /// `[[tsig]]` keys and `tls = "acme"` need OpenSSL's libcrypto, which
    /// cdnsd opens on first use: a missing one is reported here, not at the
    /// first signed message or renewal.
    func checkCrypto() throws(ConfigurationError) {
        let key: String? = !tsigKeys.isEmpty ? "tsig" : api.listen != nil && api.tls == .acme ? "api.tls" : nil
        guard let key, let reason = TSIGAlgorithm.unavailableReason else { return }
        throw ConfigurationError(source: source, key: key, reason: reason)
    }

    /// `[storage]`: a PostgreSQL URL for engine postgres.
    func checkStorage() throws(ConfigurationError) {
        guard storage.engine == .postgres else { return }
        let blame = storage.origins["url"] ?? storage.origins["engine"] ?? source
        guard !storage.url.isEmpty else {
            throw ConfigurationError(source: blame, key: "storage.url", value: "\"\"",
                                     reason: "engine postgres needs url = \"postgres://user:password@host:port/database\"")
        }
        guard let components = URLComponents(string: storage.url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              components.host?.isEmpty == false, components.user?.isEmpty == false else {
            throw ConfigurationError(source: blame, key: "storage.url", value: "\"\(storage.url)\"",
                                     reason: "not a PostgreSQL URL: expected postgres://user:password@host:port/database")
        }
    }

    /// `[acme]`: what ordering a certificate needs (`tls = "acme"`, `cert issue`).
    func checkACME() throws(ConfigurationError) {
        let origins = acme.origins
        guard !acme.directory.isEmpty else {
            throw ConfigurationError(source: origins["directory"] ?? source, key: "acme.directory", value: "\"\"",
                                     reason: "needed to order certificates, e.g. https://ca.svc.dev/acme/acme/directory")
        }
        guard let url = URLComponents(string: acme.directory), ["https", "http"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
            throw ConfigurationError(source: origins["directory"] ?? source, key: "acme.directory", value: "\"\(acme.directory)\"",
                                     reason: "expected the directory's URL, e.g. https://ca.svc.dev/acme/acme/directory")
        }
        if acme.eabKID.isEmpty != acme.eabHMACKey.isEmpty {
            let set = acme.eabKID.isEmpty ? "eab_hmac_key" : "eab_kid"
            throw ConfigurationError(source: origins[set] ?? source, key: "acme.\(set)", reason: "set both eab_kid and eab_hmac_key, or neither")
        }
        if !acme.eabHMACKey.isEmpty, Base64URL.decode(acme.eabHMACKey) == nil {
            throw ConfigurationError(source: origins["eab_hmac_key"] ?? source, key: "acme.eab_hmac_key", value: "(hidden)",
                                     reason: "the EAB MAC key is not base64url")
        }
        if !acme.caRoots.isEmpty, !FileManager.default.isReadableFile(atPath: acme.caRoots) {
            throw ConfigurationError(source: origins["ca_roots"] ?? source, key: "acme.ca_roots", value: "\"\(acme.caRoots)\"", reason: "cannot read this file")
        }
    }

    /// `tls = "file"`: the pair, read and checked to match.
    func apiCertificatePair() throws(ConfigurationError) -> ServerCertificate.Pair {
        do {
            return try ServerCertificate.Pair(certificateFile: api.certFile, keyFile: api.keyFile)
        } catch {
            let key = error.file == api.keyFile && error.file != api.certFile ? "key_file" : "cert_file"
            let value = key == "key_file" ? api.keyFile : api.certFile
            throw ConfigurationError(source: api.origins[key] ?? source, key: "api.\(key)", value: "\"\(value)\"", reason: error.reason)
        }
    }
}
