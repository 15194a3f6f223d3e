import Foundation
import NIOCore
import NIOSSL
import Synchronization

/// The certificate chain and key the API serves, replaceable while it
/// runs: each TLS handshake asks for the current pair (through NIOSSL's
/// `sslContextCallback`), so a renewed or reloaded certificate takes effect
/// for the next connection with no restart and no dropped connection.
public final class ServerCertificate: Sendable {
    /// One matching chain and key.
    public struct Pair: Sendable {
        public var chain: [NIOSSLCertificate]
        public var key: NIOSSLPrivateKey

        public init(chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) {
            self.chain = chain
            self.key = key
        }

        /// Reads a PEM chain (leaf first) and a PEM private key from files.
        public init(certificateFile: String, keyFile: String) throws(ServerCertificateError) {
            let chainPEM: String
            let keyPEM: String
            do {
                chainPEM = try String(contentsOfFile: certificateFile, encoding: .utf8)
            } catch {
                throw ServerCertificateError(file: certificateFile, reason: "cannot read: \(error.localizedDescription)")
            }
            do {
                keyPEM = try String(contentsOfFile: keyFile, encoding: .utf8)
            } catch {
                throw ServerCertificateError(file: keyFile, reason: "cannot read: \(error.localizedDescription)")
            }
            try self.init(chainPEM: chainPEM, keyPEM: keyPEM, source: (certificateFile, keyFile))
        }

        /// Parses a PEM chain and key, and checks that the key is the leaf's.
        public init(chainPEM: String, keyPEM: String, source: (chain: String, key: String) = ("certificate chain", "private key")) throws(ServerCertificateError) {
            do {
                chain = try NIOSSLCertificate.fromPEMBytes(Array(chainPEM.utf8))
            } catch {
                throw ServerCertificateError(file: source.chain, reason: "not a PEM certificate chain: \(error)")
            }
            guard !chain.isEmpty else { throw ServerCertificateError(file: source.chain, reason: "no certificate in it") }
            do {
                key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
            } catch {
                throw ServerCertificateError(file: source.key, reason: "not a PEM private key: \(error)")
            }
            // A context refuses a key that does not belong to the leaf: catches
            // files caught half-way through being replaced.
            do {
                _ = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
            } catch {
                throw ServerCertificateError(file: source.key, reason: "the key does not match the certificate in \(source.chain): \(error)")
            }
        }
    }

    private let current: Mutex<Pair>

    public init(_ pair: Pair) {
        current = Mutex(pair)
    }

    /// The pair served from the next handshake on.
    public var pair: Pair { current.withLock { $0 } }

    /// Serves `pair` from the next handshake on.
    public func replace(with pair: Pair) {
        current.withLock { $0 = pair }
    }

    /// A server configuration that always serves the current pair.
    public func tlsConfiguration() -> TLSConfiguration {
        let initial = pair
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: initial.chain.map { .certificate($0) }, privateKey: .privateKey(initial.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.sslContextCallback = { [self] _, promise in
            let pair = self.pair
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = pair.chain.map { .certificate($0) }
            override.privateKey = .privateKey(pair.key)
            promise.succeed(override)
        }
        return configuration
    }
}

/// A certificate or key file that cannot be used.
public struct ServerCertificateError: Error, CustomStringConvertible {
    public var file: String
    public var reason: String

    public var description: String { "\(file): \(reason)" }
}
