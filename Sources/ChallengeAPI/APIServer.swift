import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore

/// Builds the Hummingbird application that serves a `ChallengeAPI`, over
/// plain HTTP or TLS with a swappable certificate. The application is a
/// ServiceLifecycle `Service`.
///
/// Every connection is bounded (`APIConnectionSettings`): a cap on open
/// connections that closes the longest-waiting one to admit a newcomer,
/// deadlines for the TLS handshake plus request head, the body and the
/// wait between requests, and request heads of at most 100 fields and
/// 32 KiB.
public enum APIServer {
    public static func application(
        api: ChallengeAPI, host: String, port: Int, certificate: ServerCertificate?,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }, logger: Logger
    ) throws -> Application<RouterResponder<APIRequestContext>> {
        let table = APIConnectionTable(settings: api.configuration.connections)
        let http1 = HTTPServerBuilder.http1(configuration: HTTP1Channel.Configuration(
            additionalChannelHandlers: [APIConnectionGuard(table: table)],
            httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 32 * 1024, maxHeaderFieldCount: 100)))
        let server: HTTPServerBuilder
        if let certificate {
            server = try .tls(http1, tlsConfiguration: certificate.tlsConfiguration())
        } else {
            server = http1
        }
        return Application(
            router: api.router(), server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "cdnsd"),
            onServerRunning: onServerRunning, logger: logger)
    }
}
