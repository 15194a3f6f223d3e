import ArgumentParser
import DNSServer
import DNSWire
import Foundation
import NIOCore
import ZoneStore

/// `cdnsd zone import`: moves a zone into the store from an existing
/// primary (AXFR in) or from an RFC 1035 zone file, as one atomic write.
struct ZoneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zone",
        abstract: "Add, remove, list and import zones at runtime; [[zone]] tables of the file stay the file's.",
        subcommands: [Add.self, Remove.self, List.self, Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a zone by AXFR from another primary or from a zone file.",
            discussion: """
                cdnsd zone import --axfr 10.0.0.5:53 svc.dev [--key sec1]
                cdnsd zone import svc.dev.zone [--origin svc.dev]
                The zone's records become runtime records, replacing the zone's earlier
                runtime records, in one change (one serial, one journal entry; the
                running daemon serves it within a second). Records a [[zone]] table
                names stay as the file says. A zone no [[zone]] table defines is created
                from the imported SOA and apex NS (serial kept, so secondaries that
                followed the old primary go on); add a [[zone]] table to give it
                transfer and notify settings. DNSSEC records (RRSIG, NSEC, NSEC3,
                NSEC3PARAM) are left out: cdnsd does not sign.
                --key names a TSIG key of the store or of a [[tsig]] table.
                """)

        @OptionGroup var options: ConfigOptions
        @Option(help: "Transfer the zone from this primary (HOST:PORT or an address, port 53).") var axfr: String?
        @Option(help: "TSIG key that signs the AXFR (its every message is verified).") var key: String?
        @Option(help: "Origin of the zone file (default: the file's SOA owner, else the file name without .zone).") var origin: String?
        @Argument(help: "The zone (with --axfr) or the zone file.") var source: String

        func run() async throws {
            let configuration = try options.load()
            var records: [ResourceRecord]
            let zone: DNSName
            if let axfr {
                guard let name = try? DNSName(source) else { throw ValidationError("\(source) is not a zone name") }
                zone = name
                guard let address = CDNSConfiguration.socketAddress(axfr) ?? CDNSConfiguration.socketAddress(axfr.contains(":") ? "[\(axfr)]:53" : "\(axfr):53") else {
                    throw ValidationError("--axfr \(axfr): expected HOST:PORT or an IP address")
                }
                var credential: TSIGCredential? = nil
                if let key {
                    guard let keyName = try? DNSName(key) else { throw ValidationError("--key \(key) is not a key name") }
                    let stored = try await CredentialCommand.withStore(options) { store in store.tsigKey(name: keyName) }
                    guard let found = configuration.tsigKeys.first(where: { $0.name == keyName }) ?? stored,
                          let usable = UpdateHandler.credential(found) else {
                        throw ValidationError("--key \(key): no such TSIG key (cdnsd tsig list)")
                    }
                    credential = usable
                }
                do {
                    records = try ZoneTransferClient.axfr(zone: zone, from: address, credential: credential)
                } catch {
                    FileHandle.standardError.write(Data("cdnsd: AXFR of \(zone) from \(axfr) failed: \(error)\n".utf8))
                    throw ExitCode(1)
                }
            } else {
                let text: String
                do { text = try String(contentsOfFile: source, encoding: .utf8) } catch { throw ValidationError("cannot read \(source): \(error.localizedDescription)") }
                let fallback = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
                guard let guess = try? DNSName(origin ?? fallback) else { throw ValidationError("give --origin ZONE for \(source)") }
                do {
                    records = try ZoneFile.parse(text, origin: guess)
                } catch {
                    FileHandle.standardError.write(Data("cdnsd: \(source): \(error)\n".utf8))
                    throw ExitCode(65)
                }
                // Without --origin, the zone is where the file's SOA is.
                zone = origin == nil ? (records.first { $0.type == .soa }?.name ?? guess) : guess
            }
            let result = try await Self.store(records, zone: zone, options: options)
            print("imported \(zone): \(result.records) records\(result.skipped > 0 ? " (\(result.skipped) DNSSEC records left out)" : ""), serial \(result.serial)\(result.created ? " (new zone)" : "")")
        }

        /// Writes `records` as `zone`'s runtime records in one store write.
        static func store(_ records: [ResourceRecord], zone: DNSName, options: ConfigOptions) async throws -> (records: Int, skipped: Int, serial: UInt32, created: Bool) {
            guard let soaRecord = records.first(where: { $0.type == .soa && $0.name == zone }), case .soa(let soa) = soaRecord.data else {
                throw ValidationError("no SOA for \(zone) in what was read")
            }
            let dnssec: Set<RRType> = [.rrsig, .nsec, .nsec3, RRType(51)]
            var skipped = 0
            var imported: [ResourceRecord] = []
            for record in records where record.type != .soa || record.name != zone {
                guard record.name.isSubdomain(of: zone) else {
                    throw ValidationError("\(record.name) \(record.type) is outside \(zone)")
                }
                if dnssec.contains(record.type) { skipped += 1; continue }
                imported.append(record)
            }
            let apexNS = imported.compactMap { record -> DNSName? in
                guard record.name == zone, case .ns(let host) = record.data else { return nil }
                return host
            }
            var nameservers = apexNS.filter { $0 == soa.mname }
            nameservers += apexNS.filter { $0 != soa.mname }
            if nameservers.isEmpty { nameservers = [soa.mname] }
            let settings = ZoneConfiguration(
                origin: zone, nameservers: nameservers, admin: soa.rname, ttl: soaRecord.ttl, negativeTTL: soa.minimum,
                refresh: soa.refresh, retry: soa.retry, expire: soa.expire, serial: soa.serial)
            let body = imported.filter { !($0.type == .ns && $0.name == zone) }
            return try await CredentialCommand.withStore(options) { store in
                let created = try await store.write { view throws(ZoneStoreError) in
                    var operations: [StoreOperation] = []
                    let existing = view.zones.first { $0.configuration.origin == zone }
                    if existing == nil { operations.append(.put(.zone(settings, fromConfiguration: false))) }
                    let stored = view.storedRecords(in: zone)
                    let configured = Set(stored.filter(\.fromConfiguration).map(\.record))
                    let wanted = Set(body.filter { !configured.contains($0) })
                    for entry in stored where !entry.fromConfiguration && !wanted.contains(entry.record) {
                        operations.append(.delete(.record(entry.record, fromConfiguration: false)))
                    }
                    let have = Set(stored.filter { !$0.fromConfiguration }.map(\.record))
                    for record in body where !configured.contains(record) && !have.contains(record) {
                        operations.append(.put(.record(record, fromConfiguration: false)))
                    }
                    return (operations, existing == nil ? 1 : 0)
                } == 1
                return (body.count, skipped, store.view().serial(of: zone) ?? soa.serial, created)
            }
        }
    }
}
