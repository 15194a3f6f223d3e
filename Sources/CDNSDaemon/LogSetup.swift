import Foundation
import Logging

/// Sets up swift-log once per process from `[log]`: text lines or JSON lines
/// on standard error.
enum LogSetup {
    static func bootstrap(_ configuration: CDNSConfiguration.Log) {
        let level = configuration.level
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = configuration.format == .json
                ? JSONLogHandler(label: label)
                : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
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
