import Foundation
import Logging
import Synchronization

/// Sets up swift-log once per process from `[log]`: text lines or JSON lines
/// on standard error.
enum LogSetup {
    /// The level every handler made here follows; a reload changes it.
    static let level = Mutex<Logger.Level>(.info)

    static func bootstrap(_ configuration: CDNSConfiguration.Log) {
        level.withLock { $0 = configuration.level }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = configuration.format == .json
                ? JSONLogHandler(label: label)
                : StreamLogHandler.standardError(label: label)
            handler.logLevel = .trace
            return ReloadableLevelHandler(inner: handler)
        }
    }
}

/// A handler whose level is `LogSetup.level` (so that SIGHUP can change
/// it for every logger at once) unless a logger sets its own.
struct ReloadableLevelHandler: LogHandler {
    var inner: any LogHandler
    var override: Logger.Level? = nil

    var logLevel: Logger.Level {
        get { override ?? LogSetup.level.withLock { $0 } }
        set { override = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) { inner.log(event: event) }
}

/// One JSON object per line: `{"ts","level","label","msg",…metadata}`.
struct JSONLogHandler: LogHandler {
    /// One format for every line of every handler: a value type, so it is
    /// shared without a lock and never rebuilt per line.
    static let timestamp = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: String] = [
            "ts": Self.timestamp.format(Date()),
            "level": event.level.rawValue,
            "label": label,
            "msg": "\(event.message)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { object[key] = "\(value)" }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        FileHandle.standardError.write(data + Data([0x0A]))
    }
}
