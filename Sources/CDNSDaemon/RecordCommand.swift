import ArgumentParser
import ChallengeAPI
import DNSWire
import Foundation
import ZoneStore

/// `cdnsd record add|remove|list`: zone records kept in the store, served
/// at once. Works on the configured store, also while the daemon runs (it
/// picks up the change within a second).
struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Add, remove and list zone records at runtime (no restart, no config edit).",
        discussion: """
            Records of the configuration file are a seed: on every start and reload the file
            wins for the RRsets (name and type) it names, and runtime records of other names
            and types stay. Runtime records cannot replace the SOA or the apex NS (those come
            from the zone's settings) and cannot remove what the file seeds.
            """,
        subcommands: [Add.self, Remove.self, List.self])

    /// Prints a store refusal as `cdnsd: …` and exits 1.
    static func refuse(_ error: any Error) -> ExitCode {
        let message = (error as? ZoneStoreError)?.detail ?? "\(error)"
        FileHandle.standardError.write(Data("cdnsd: \(message)\n".utf8))
        return ExitCode(1)
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a record given in presentation form; prints it and the zone's new serial.",
            discussion: "Example: cdnsd record add 'ca.svc.dev. 300 A 10.8.10.253'")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "NAME [TTL] [CLASS] TYPE RDATA, as in a zone file.") var line: String

        func run() async throws {
            let (record, serial) = try await CredentialCommand.withStore(options) { store in
                do {
                    let record = try RecordLine.record(line, view: store.view())
                    try await store.add([record])
                    let view = store.view()
                    return (record, view.zone(containing: record.name).flatMap { view.serial(of: $0.origin) })
                } catch {
                    throw RecordCommand.refuse(error)
                }
            }
            print("added \(record)")
            if let serial { print("serial: \(serial)") }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove one runtime record (NAME TYPE RDATA) or a whole runtime RRset (NAME TYPE).",
            discussion: "Example: cdnsd record remove 'ca.svc.dev. A 10.8.10.253'")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "NAME TYPE [RDATA].") var line: String

        func run() async throws {
            let (removed, serial) = try await CredentialCommand.withStore(options) { store in
                do {
                    let target = try RecordLine.removal(line)
                    let count = try await store.removeRuntimeRecords(name: target.name, type: target.type, data: target.data)
                    let view = store.view()
                    return (count, view.zone(containing: target.name).flatMap { view.serial(of: $0.origin) })
                } catch {
                    throw RecordCommand.refuse(error)
                }
            }
            guard removed > 0 else {
                FileHandle.standardError.write(Data("cdnsd: no runtime record matches \(line)\n".utf8))
                throw ExitCode(1)
            }
            print("removed \(removed) record\(removed == 1 ? "" : "s")")
            if let serial { print("serial: \(serial)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List stored records (source=config or source=runtime), by zone.")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "Only this zone.") var zone: String?
        @Option(help: "Only records at this name.") var name: String?
        @Option(help: "Only records of this type.") var type: String?
        @Flag(help: "One JSON object: zones with their serial and records.") var json = false

        func run() async throws {
            let zoneName = try zone.map { text in
                guard let name = try? DNSName(text) else { throw ValidationError("\(text) is not a zone name") }
                return name
            }
            let owner = try name.map { text in
                guard let name = try? DNSName(text) else { throw ValidationError("--name \(text) is not a domain name") }
                return name
            }
            let rrType = try type.map { text in
                guard let type = RRType(mnemonic: text) else { throw ValidationError("--type \(text) is not a record type") }
                return type
            }
            let view = try await CredentialCommand.withStore(options) { store in store.view() }
            let zones = view.zones.filter { zoneName == nil || $0.configuration.origin == zoneName }
            if let zoneName, zones.isEmpty {
                FileHandle.standardError.write(Data("cdnsd: no zone \(zoneName) is served\n".utf8))
                throw ExitCode(1)
            }
            var objects: [[String: any Sendable]] = []
            for zone in zones {
                let origin = zone.configuration.origin
                let records = AdminRecords.filter(view.storedRecords(in: origin), name: owner, type: rrType)
                if json {
                    objects.append(AdminRecords.zoneObject(zone.configuration, fromConfiguration: zone.fromConfiguration, serial: view.serial(of: origin), records: records))
                    continue
                }
                print("; zone \(origin) serial \(view.serial(of: origin) ?? zone.configuration.serial) (\(zone.fromConfiguration ? "config" : "runtime"))")
                for entry in records {
                    print("\(entry.record)\tsource=\(entry.fromConfiguration ? "config" : "runtime")")
                }
            }
            if json {
                let data = try JSONSerialization.data(withJSONObject: ["zones": objects], options: [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }
}

/// `cdnsd zone add|remove|list`: zones served next to those of the
/// configuration file, kept in the store.
extension ZoneCommand {
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve a new zone (or change a runtime zone's SOA and NS settings).",
            discussion: "Example: cdnsd zone add lab.dev --nameserver dns.svc.dev --admin admin.lab.dev")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "The zone's apex.") var name: String
        @Option(name: .customLong("nameserver"), help: "Apex NS target (repeatable); the first is the SOA mname.") var nameservers: [String] = []
        @Option(help: "SOA rname, admin.lab.dev for admin@lab.dev (default hostmaster.ZONE).") var admin: String?
        @Option(help: "TTL of the SOA and NS records and default TTL of records.") var ttl: UInt32 = 3600
        @Option(name: .customLong("negative-ttl"), help: "SOA minimum (RFC 2308).") var negativeTTL: UInt32 = 300

        func run() async throws {
            guard let origin = try? DNSName(name), !origin.isRoot else { throw ValidationError("\(name) is not a zone name") }
            var servers: [DNSName] = []
            for text in nameservers.isEmpty ? ["ns.\(origin)"] : nameservers {
                guard let server = try? DNSName(text) else { throw ValidationError("--nameserver \(text) is not a domain name") }
                servers.append(server)
            }
            guard let adminName = try? DNSName(admin ?? "hostmaster.\(origin)") else { throw ValidationError("--admin \(admin ?? "") is not a domain name") }
            let zone = ZoneConfiguration(
                origin: origin, nameservers: servers, admin: adminName, ttl: ttl, negativeTTL: negativeTTL,
                serial: UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)))
            try await CredentialCommand.withStore(options) { store in
                if store.view().zones.contains(where: { $0.configuration.origin == origin && $0.fromConfiguration }) {
                    FileHandle.standardError.write(Data("cdnsd: zone \(origin) is defined in the configuration file; change it there and reload\n".utf8))
                    throw ExitCode(1)
                }
                do {
                    try await store.putZone(zone)
                } catch {
                    throw RecordCommand.refuse(error)
                }
            }
            print("zone \(origin): served, name servers \(servers.map(\.description).joined(separator: " "))")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop serving a runtime zone (its stored records are kept, not served).")

        @OptionGroup var options: ConfigOptions
        @Argument(help: "The zone's apex.") var name: String

        func run() async throws {
            guard let origin = try? DNSName(name) else { throw ValidationError("\(name) is not a zone name") }
            let removed = try await CredentialCommand.withStore(options) { store in
                if store.view().zones.contains(where: { $0.configuration.origin == origin && $0.fromConfiguration }) {
                    FileHandle.standardError.write(Data("cdnsd: zone \(origin) is defined in the configuration file; remove it there and reload\n".utf8))
                    throw ExitCode(1)
                }
                do {
                    return try await store.removeZone(origin: origin)
                } catch {
                    throw RecordCommand.refuse(error)
                }
            }
            guard removed else {
                FileHandle.standardError.write(Data("cdnsd: no zone \(origin) is served\n".utf8))
                throw ExitCode(1)
            }
            print("zone \(origin): removed")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the zones served, their serials and where each comes from.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let view = try await CredentialCommand.withStore(options) { store in store.view() }
            for zone in view.zones {
                let origin = zone.configuration.origin
                print("\(origin)\tserial=\(view.serial(of: origin) ?? zone.configuration.serial)\tsource=\(zone.fromConfiguration ? "config" : "runtime")\trecords=\(view.storedRecords(in: origin).count)")
            }
        }
    }
}
