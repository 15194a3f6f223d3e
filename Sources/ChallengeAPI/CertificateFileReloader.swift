import Crypto
import Foundation
import Logging
import ServiceLifecycle

/// `tls = "file"`: watches the certificate and key files and swaps the
/// served pair when either changes (as certbot or cert-manager rewrite
/// them). A pair that does not load is logged and the old one kept.
///
/// A change is a change of what the paths lead to, read through every
/// symbolic link: Kubernetes mounts a secret as `tls.crt -> ..data/tls.crt`
/// and rotates it by swapping the `..data` link, so the file's own link
/// never changes. The files are compared by their contents' digest.
public struct CertificateFileReloader: Service {
    public let certificate: ServerCertificate
    public let certificateFile: String
    public let keyFile: String
    public let interval: Duration
    let logger: Logger

    public init(certificate: ServerCertificate, certificateFile: String, keyFile: String, interval: Duration = .seconds(2), logger: Logger) {
        self.certificate = certificate
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        var seen = stamp()
        var failed: [String] = []
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            let now = stamp()
            guard now != seen, now != failed else { continue }
            do {
                certificate.replace(with: try ServerCertificate.Pair(certificateFile: certificateFile, keyFile: keyFile))
                seen = now
                logger.info("API certificate reloaded", metadata: ["cert_file": "\(certificateFile)"])
            } catch {
                // Half-replaced files load once the other file changes too;
                // keep serving the old pair, and say so once per change.
                failed = now
                logger.warning("API certificate not reloaded", metadata: ["error": "\(error)"])
            }
        }
    }

    /// A digest of each file's contents, read through symbolic links.
    private func stamp() -> [String] {
        [certificateFile, keyFile].map { path in
            guard let contents = FileManager.default.contents(atPath: path) else { return "missing" }
            return SHA256.hash(data: contents).map { String(format: "%02x", $0) }.joined()
        }
    }
}
