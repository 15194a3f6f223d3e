import ACMEClient
import Foundation
import Glibc
import Logging
import ServiceLifecycle

/// A certificate `cdnsd cert issue` ordered for another service and the
/// running daemon keeps renewed: what to order, where to put it, what to
/// run afterwards, and how its renewals went. One JSON file per
/// certificate under `<data>/acme/managed/`.
struct ManagedCertificate: Codable, Sendable, Equatable {
    /// The record's name: the first DNS name, file-system safe (`*.svc.dev` → `_.svc.dev`).
    var name: String
    var names: [String]
    /// Directory of `fullchain.pem` and `privkey.pem`.
    var out: String
    var keyType: String
    var certMode: Int
    var keyMode: Int
    /// Run with `/bin/sh -c` after every issuance, at most `hookTimeout` seconds.
    var deployHook: String?
    var hookTimeout: Int
    /// Renew once less than this many seconds of validity remain, even
    /// before the CA's ARI window or two thirds of the lifetime.
    var renewBefore: Int?

    /// The chain in service (leaf first) and what it says.
    var chain: String?
    var serial: String?
    var notAfter: Date?
    /// When the daemon renews next (the renewal time, or the next retry after a failure).
    var nextRenewal: Date?
    var lastIssued: Date?
    /// Issuances after the first.
    var renewals: Int = 0
    var lastError: String?
    var failures: Int = 0
    /// The deploy hook's last outcome, e.g. `exit 0 at …`.
    var lastHook: String?

    var fullchainPath: String { "\(out)/fullchain.pem" }
    var privkeyPath: String { "\(out)/privkey.pem" }
}

/// The managed certificates' records: written by `cert issue` and
/// `cert remove`, updated by the daemon; every read-modify-write holds an
/// exclusive lock on the directory, and every file is replaced atomically.
struct ManagedCertificateStore: Sendable {
    let directory: String

    init(files: CertificateFiles) {
        directory = files.managedDirectory
    }

    static func recordName(_ name: String) -> String { CertificateFiles.stem(name) }

    func path(_ name: String) -> String { "\(directory)/\(name).json" }

    func all() -> [ManagedCertificate] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return files.compactMap { load(String($0.dropLast(".json".count))) }
    }

    func load(_ name: String) -> ManagedCertificate? {
        guard let data = FileManager.default.contents(atPath: path(name)) else { return nil }
        return try? Self.decoder.decode(ManagedCertificate.self, from: data)
    }

    func save(_ record: ManagedCertificate) throws {
        try withLock { try write(record) }
    }

    /// Changes the stored record under the lock; nil (and nothing written)
    /// when it was removed meanwhile.
    @discardableResult
    func update(_ name: String, _ change: (inout ManagedCertificate) -> Void) throws -> ManagedCertificate? {
        try withLock {
            guard var record = load(name) else { return nil }
            change(&record)
            try write(record)
            return record
        }
    }

    /// True when there was such a record.
    func remove(_ name: String) throws -> Bool {
        try withLock { unlink(path(name)) == 0 }
    }

    /// Changes when a record is added, replaced or removed: the daemon
    /// looks again then.
    func stamp() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted().map { file in
            var info = stat()
            guard stat("\(directory)/\(file)", &info) == 0 else { return file }
            return "\(file)/\(info.st_ino)/\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)/\(info.st_size)"
        }
    }

    private func write(_ record: ManagedCertificate) throws {
        try AtomicFile.write(try Self.encoder.encode(record), to: path(record.name), mode: 0o600)
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let descriptor = open("\(directory)/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AtomicFile.WriteError(path: "\(directory)/.lock", reason: "cannot open the lock") }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// Issuing a managed certificate, the same way for `cert issue` and for the
/// daemon's renewals: order, write key and chain atomically with their
/// modes, schedule the next renewal, run the deploy hook.
struct CertificateDeployment: Sendable {
    let issuer: CertificateIssuer
    let store: ManagedCertificateStore
    let logger: Logger

    /// Orders `record` anew and puts the result in service. Returns the
    /// updated record, also stored: created when `create` (`cert issue`),
    /// otherwise only if it was not removed meanwhile (a renewal).
    func issue(_ record: ManagedCertificate, create: Bool, progress: @escaping @Sendable (String) -> Void) async throws -> ManagedCertificate {
        let issued = try await issuer.issue(record.names, keyType: PrivateKey.Algorithm(rawValue: record.keyType) ?? .p256, progress: progress)
        try FileManager.default.createDirectory(atPath: record.out, withIntermediateDirectories: true)
        // The key first: a reader that sees the new chain also finds its key.
        try AtomicFile.write(issued.key, to: record.privkeyPath, mode: record.keyMode)
        try AtomicFile.write(issued.chain, to: record.fullchainPath, mode: record.certMode)
        let info = try CertificateInfo(pem: issued.chain)
        let next = await renewalTime(issued.chain, info: info, renewBefore: record.renewBefore)
        var updated = record
        updated.chain = issued.chain
        updated.serial = info.serialHex
        updated.notAfter = info.notAfter
        updated.nextRenewal = next
        if updated.lastIssued != nil { updated.renewals += 1 }
        updated.lastIssued = Date()
        updated.lastError = nil
        updated.failures = 0
        progress("wrote \(record.fullchainPath) and \(record.privkeyPath) (serial \(info.serialHex), valid until \(info.notAfter)); next renewal \(next)")
        if let hook = record.deployHook, !hook.isEmpty {
            let outcome = await DeployHook.run(hook, for: updated, logger: logger)
            updated.lastHook = outcome
            progress("deploy hook: \(outcome)")
        }
        if create {
            try store.save(updated)
        } else if try store.update(record.name, { $0 = updated }) == nil {
            logger.notice("managed certificate removed while it renewed; its files stay", metadata: ["certificate": "\(record.name)"])
        }
        return updated
    }

    /// The CA's ARI window (else two thirds of the lifetime), and never
    /// later than `renewBefore` ahead of expiry.
    func renewalTime(_ chain: String, info: CertificateInfo, renewBefore: Int?) async -> Date {
        var due = await issuer.renewalTime(chain)
        if let renewBefore { due = min(due, info.notAfter.addingTimeInterval(-Double(renewBefore))) }
        return due
    }
}

/// Runs a deploy hook with `/bin/sh -c` in its own process group, with
/// the certificate's paths in its environment, and ends the whole group
/// if it outlives its timeout.
enum DeployHook {
    /// `exit 0`, `exit 3`, `killed after the 60 s timeout`, … with the time.
    static func run(_ command: String, for record: ManagedCertificate, logger: Logger) async -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["CDNSD_CERT_NAME"] = record.name
        environment["CDNSD_CERT_NAMES"] = record.names.joined(separator: " ")
        environment["CDNSD_CERT_DIR"] = record.out
        environment["CDNSD_FULLCHAIN"] = record.fullchainPath
        environment["CDNSD_PRIVKEY"] = record.privkeyPath
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("cdnsd-hook-\(UUID().uuidString.prefix(8)).log").path
        defer { unlink(output) }
        let started = Date()
        let outcome: String
        switch spawn(["/bin/sh", "-c", command], environment: environment, output: output) {
        case .failure(let reason):
            outcome = "not started: \(reason)"
        case .success(let pid):
            outcome = await wait(pid, timeout: record.hookTimeout)
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let tail = String(text.suffix(2000)).trimmingCharacters(in: .whitespacesAndNewlines)
        let metadata: Logger.Metadata = ["certificate": "\(record.name)", "hook": "\(command)", "status": "\(outcome)",
                                         "seconds": "\(String(format: "%.1f", Date().timeIntervalSince(started)))", "output": "\(tail)"]
        if outcome == "exit 0" {
            logger.info("deploy hook finished", metadata: metadata)
        } else {
            logger.error("deploy hook failed", metadata: metadata)
        }
        return "\(outcome) at \(Date().formatted(.iso8601))"
    }

    enum Spawned {
        case success(pid_t)
        case failure(String)
    }

    private static func spawn(_ arguments: [String], environment: [String: String], output: String) -> Spawned {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so that a timeout ends its children too.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else { return .failure(String(cString: strerror(result))) }
        return .success(pid)
    }

    private static func wait(_ pid: pid_t, timeout: Int) async -> String {
        let deadline = Date().addingTimeInterval(Double(timeout))
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return describe(status) }
            if reaped < 0 && errno != EINTR { return "lost: \(String(cString: strerror(errno)))" }
            if Date() >= deadline { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        kill(-pid, SIGTERM)
        let grace = Date().addingTimeInterval(2)
        while Date() < grace {
            if waitpid(pid, &status, WNOHANG) == pid { return "killed after the \(timeout) s timeout" }
            try? await Task.sleep(for: .milliseconds(50))
        }
        kill(-pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
        return "killed after the \(timeout) s timeout"
    }

    private static func describe(_ status: Int32) -> String {
        status & 0x7F == 0 ? "exit \((status >> 8) & 0xFF)" : "signal \(status & 0x7F)"
    }
}

/// The daemon's side of managed certificates: sleeps until the next one
/// is due (or a SIGHUP, or a record added or removed by `cert issue` /
/// `cert remove`), renews what is due, and backs off after a failure
/// (5 s doubling to an hour; a SIGHUP retries at once).
struct ManagedCertificateService: Service {
    let store: ManagedCertificateStore
    /// Nil when `[acme]` cannot order: due certificates then record why.
    let deployment: CertificateDeployment?
    let unavailable: String?
    let trigger: RenewalTrigger
    let logger: Logger
    /// How often the records' directory is looked at for other processes' changes.
    var watchInterval: Duration = .seconds(2)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await watch() }
                group.addTask { await keepRenewed() }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Pulls the trigger when a record file appears, changes or goes.
    private func watch() async {
        var seen = store.stamp()
        while !Task.isCancelled {
            try? await Task.sleep(for: watchInterval)
            let now = store.stamp()
            if now != seen {
                seen = now
                trigger.pull(.changed)
            }
        }
    }

    private func keepRenewed() async {
        var announced: [String: Date] = [:]
        while !Task.isCancelled {
            var next = Date().addingTimeInterval(86400)
            for record in store.all() {
                if Task.isCancelled { return }
                if let notAfter = record.notAfter { CertificateMetrics.expires(record.name, kind: "managed", at: notAfter) }
                let due = record.nextRenewal ?? Date()
                if due > Date() {
                    next = min(next, due)
                    if announced[record.name] != due {
                        announced[record.name] = due
                        logger.info("managed certificate renewal scheduled", metadata: ["certificate": "\(record.name)", "at": "\(due)"])
                    }
                    continue
                }
                if let renewed = await renew(record), let due = renewed.nextRenewal { next = min(next, due) }
            }
            let wake = await trigger.wait(until: next)
            if wake.contains(.hangup) {
                // A SIGHUP cuts every back-off short.
                for record in store.all() where record.failures > 0 {
                    _ = try? store.update(record.name) { $0.nextRenewal = Date() }
                }
            }
        }
    }

    /// One renewal; on failure the record says why and when the next try is.
    private func renew(_ record: ManagedCertificate) async -> ManagedCertificate? {
        logger.info("renewing managed certificate", metadata: ["certificate": "\(record.name)", "names": "\(record.names)"])
        do {
            guard let deployment else { throw RenewalUnavailable(reason: unavailable ?? "no [acme] directory") }
            let logger = logger
            let renewed = try await deployment.issue(record, create: false) { line in logger.debug("acme: \(line)", metadata: ["certificate": "\(record.name)"]) }
            if let notAfter = renewed.notAfter { CertificateMetrics.expires(record.name, kind: "managed", at: notAfter) }
            logger.info("managed certificate renewed", metadata: [
                "certificate": "\(record.name)", "serial": "\(renewed.serial ?? "?")", "not_after": "\(renewed.notAfter.map { "\($0)" } ?? "?")",
                "next_renewal": "\(renewed.nextRenewal.map { "\($0)" } ?? "?")",
            ])
            return renewed
        } catch {
            // Stopping is not a failed renewal: the record stays as it was.
            if Task.isCancelled { return nil }
            let failures = record.failures + 1
            let delay = min(5.0 * pow(2, Double(min(failures - 1, 20))), 3600)
            let retry = Date().addingTimeInterval(delay)
            logger.error("renewing managed certificate failed; retrying", metadata: ["certificate": "\(record.name)", "error": "\(error)", "in": "\(Int(delay)) s"])
            return try? store.update(record.name) { stored in
                stored.failures = failures
                stored.lastError = "\(Date().formatted(.iso8601)): \(error)"
                stored.nextRenewal = retry
            }
        }
    }
}

struct RenewalUnavailable: Error, CustomStringConvertible {
    let reason: String
    var description: String { "cannot renew: \(reason)" }
}
