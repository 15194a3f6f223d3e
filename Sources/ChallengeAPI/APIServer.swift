import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore

/// Builds the Hummingbird application that serves a `ChallengeAPI`, over
/// plain HTTP or TLS with a swappable certificate. The application is a
/// ServiceLifecycle `Service`.
public enum APIServer {
    public static func application(
        api: ChallengeAPI, host: String, port: Int, certificate: ServerCertificate?,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }, logger: Logger
    ) throws -> Application<RouterResponder<APIRequestContext>> {
        let server: HTTPServerBuilder
        if let certificate {
            server = try .tls(.http1(), tlsConfiguration: certificate.tlsConfiguration())
        } else {
            server = .http1()
        }
        return Application(
            router: api.router(), server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "cdnsd"),
            onServerRunning: onServerRunning, logger: logger)
    }
}
