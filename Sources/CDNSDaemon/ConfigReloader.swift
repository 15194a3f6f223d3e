import DNSWire
import Foundation
import Logging
import Synchronization
import ZoneStore

/// The `[[tsig]]` keys of the configuration file, replaced on reload.
final class StaticTSIGKeys: Sendable {
    private let keys: Mutex<[DNSName: TSIGKey]>

    init(_ list: [TSIGKey]) { keys = Mutex(Self.index(list)) }

    func key(_ name: DNSName) -> TSIGKey? { keys.withLock { $0[name] } }

    func replace(_ list: [TSIGKey]) { keys.withLock { $0 = Self.index(list) } }

    static func index(_ list: [TSIGKey]) -> [DNSName: TSIGKey] {
        Dictionary(list.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// Reloads the configuration file on SIGHUP: the zones and their records
/// are reconciled into the store (one atomic change, served from the next
/// snapshot, so no query goes unanswered), static TSIG keys and the log
/// level take effect at once. A file that does not load, or whose zones
/// the store refuses, changes nothing and is logged with the reason.
/// Listen addresses, storage, transfer and notify settings need a restart
/// (logged when they changed).
final class ConfigReloader: Sendable {
    let file: String?
    let store: ZoneRecordStore
    let staticKeys: StaticTSIGKeys
    let running: Mutex<CDNSConfiguration>
    let logger: Logger

    init(file: String?, running: CDNSConfiguration, store: ZoneRecordStore, staticKeys: StaticTSIGKeys, logger: Logger) {
        self.file = file
        self.store = store
        self.staticKeys = staticKeys
        self.running = Mutex(running)
        self.logger = logger
    }

    /// Returns whether the new configuration was taken.
    @discardableResult
    func reload() async -> Bool {
        let next: CDNSConfiguration
        do {
            next = try CDNSConfiguration.load(file: file)
            try next.checkForServe()
        } catch {
            logger.error("configuration reload refused; still serving the previous configuration", metadata: ["config": "\(file ?? "built-in")", "error": "\(error)"])
            return false
        }
        do {
            try await store.reconcile(configuration: next.zones)
        } catch {
            logger.error("configuration reload refused by the store; still serving the previous configuration", metadata: ["config": "\(next.source)", "error": "\(error.description)"])
            return false
        }
        staticKeys.replace(next.tsigKeys)
        LogSetup.level.withLock { $0 = next.log.level }
        let previous = running.withLock { old in
            let copy = old
            old = next
            return copy
        }
        var restart: [String] = []
        if previous.dns.listen != next.dns.listen || previous.dns.protocols != next.dns.protocols { restart.append("[dns] listen/protocol") }
        if previous.api.listen?.host != next.api.listen?.host || previous.api.listen?.port != next.api.listen?.port || previous.api.tls != next.api.tls { restart.append("[api] listen/tls") }
        if previous.storage.engine != next.storage.engine || previous.storage.path != next.storage.path || previous.storage.url != next.storage.url { restart.append("[storage]") }
        if Self.transferSummary(previous) != Self.transferSummary(next) {
            restart.append("zone transfer/notify")
        }
        if !restart.isEmpty {
            logger.warning("configuration reloaded, but these changes take effect only after a restart", metadata: ["settings": "\(restart.joined(separator: ", "))"])
        }
        logger.info("configuration reloaded", metadata: [
            "config": "\(next.source)", "zones": "\(next.zones.map(\.origin.description).joined(separator: ", "))",
            "static_tsig_keys": "\(next.tsigKeys.count)", "log_level": "\(next.log.level)",
        ])
        return true
    }

    /// The transfer and notify settings of each zone that has some, to
    /// compare two configurations (a zone without any needs no restart).
    static func transferSummary(_ configuration: CDNSConfiguration) -> [DNSName: String] {
        configuration.transfers.filter { $0.value.policy != nil || !$0.value.notify.isEmpty || $0.value.notifyNameservers }
            .mapValues { "\($0.policy.map { "\($0)" } ?? "-") \($0.notify) \($0.notifyNameservers)" }
    }
}
