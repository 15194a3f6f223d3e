import ACMEClient
import ChallengeAPI
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// `[api] tls = "acme"`: obtains the API's certificate for `[api] domain`
/// from the configured directory, hands the first one to the API, and
/// renews it in the background (ARI window when offered, else at 2/3 of its
/// life; SIGHUP renews at once), swapping it into the running TLS server.
/// A stored certificate is served while the next one is ordered.
struct APICertificateService: Service {
    let issuer: CertificateIssuer
    let names: [String]
    /// Receives the served certificate once, when the first is ready.
    let ready: AsyncStream<ServerCertificate>.Continuation
    /// Pulled by SIGHUP: renew now, or retry now during a back-off.
    let trigger: RenewalTrigger
    let logger: Logger
    /// First wait after a failed order; doubles up to an hour.
    var retry: Duration = .seconds(5)

    func run() async throws {
        await cancelWhenGracefulShutdown { await keepRenewed() }
        ready.finish()
    }

    private func keepRenewed() async {
        var served: ServerCertificate? = nil
        var chain: String? = nil
        if let stored = issuer.files.stored(names[0]), let info = try? CertificateInfo(pem: stored.chain), info.notAfter > Date(),
           let pair = try? ServerCertificate.Pair(chainPEM: stored.chain, keyPEM: stored.key) {
            let certificate = ServerCertificate(pair)
            served = certificate
            chain = stored.chain
            ready.yield(certificate)
            logger.info("serving the stored API certificate", metadata: ["serial": "\(info.serialHex)", "not_after": "\(info.notAfter)"])
            CertificateMetrics.expires(names[0], kind: "api", at: info.notAfter)
        }
        var delay = retry
        while !Task.isCancelled {
            if let chain {
                let due = await issuer.renewalTime(chain)
                logger.info("API certificate renewal scheduled", metadata: ["at": "\(due)"])
                if await trigger.wait(until: due).contains(.hangup) { logger.info("SIGHUP: renewing the API certificate now") }
                if Task.isCancelled { return }
            }
            do {
                let issued = try await issuer.issue(names) { line in logger.info("acme: \(line)") }
                try issuer.files.store(names[0], chain: issued.chain, key: issued.key)
                let pair = try ServerCertificate.Pair(chainPEM: issued.chain, keyPEM: issued.key)
                if let served {
                    served.replace(with: pair)
                } else {
                    let certificate = ServerCertificate(pair)
                    served = certificate
                    ready.yield(certificate)
                }
                chain = issued.chain
                delay = retry
                if let info = try? CertificateInfo(pem: issued.chain) { CertificateMetrics.expires(names[0], kind: "api", at: info.notAfter) }
                logger.info("API certificate in service", metadata: ["names": "\(names)", "serial": "\((try? CertificateInfo(pem: issued.chain))?.serialHex ?? "?")"])
            } catch {
                if Task.isCancelled { return }
                logger.error("ordering the API certificate failed; retrying", metadata: ["error": "\(error)", "in": "\(delay)"])
                // A SIGHUP during the back-off retries at once.
                if await trigger.wait(until: Date().addingTimeInterval(Double(delay.components.seconds))).contains(.hangup) {
                    logger.info("retrying the API certificate now (SIGHUP)")
                }
                delay = min(delay * 2, .seconds(3600))
            }
        }
    }
}

/// A service that starts only once `start` returns something to run: the
/// API under `tls = "acme"` waits for its first certificate.
struct DeferredService: Service {
    let start: @Sendable () async throws -> (any Service)?

    func run() async throws {
        guard let service = try await cancelWhenGracefulShutdown({ try await start() }) else { return }
        try await service.run()
    }
}

/// `/metrics` series about the certificates cdnsd keeps: when each expires,
/// for "expires within 7 days" alerts.
enum CertificateMetrics {
    static func expires(_ name: String, kind: String, at date: Date) {
        Gauge(label: "cdnsd_certificate_expiry_timestamp_seconds", dimensions: [("certificate", name), ("kind", kind)]).record(date.timeIntervalSince1970)
    }
}
