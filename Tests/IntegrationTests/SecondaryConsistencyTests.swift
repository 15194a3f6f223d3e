import CDNSTestSupport
import DNSServer
import DNSWire
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// knotd and nsd secondaries following every kind of change (RFC 2136
/// records and challenge values, runtime records, expiry), transfers that
/// never tear under 100 concurrent writers, and pebble validating a lego
/// wildcard order against the knotd secondary.
@Suite("Secondaries: UPDATE, expiry, no torn transfer, pebble via knotd", .blocking, .serialized)
struct SecondaryConsistencyTests {
    static let zone: DNSName = "svc.test."
    static let transferKey = "xfr-key"

    struct Setup {
        var cdnsd: ChallengeDaemon
        var transferSecret = ""
        var writerSecret = ""
        let knotPort: UInt16
        let nsdPort: UInt16

        /// A daemon the caller configured and started itself.
        init(existing: ChallengeDaemon) {
            cdnsd = existing
            knotPort = 0
            nsdPort = 0
        }

        init(in directory: TemporaryDirectory, sections: String = "", svc: [String] = []) throws {
            cdnsd = try ChallengeDaemon(in: directory)
            knotPort = try TestDNSClient.freePort()
            nsdPort = try TestDNSClient.freePort()
            cdnsd.svcZoneLines = [
                "transfer = { allow = [\"127.0.0.1/32\"], keys = [\"\(SecondaryConsistencyTests.transferKey)\"] }",
                "notify = [\"127.0.0.1:\(knotPort)\", \"127.0.0.1:\(nsdPort)\"]",
            ]
            cdnsd.sections = sections
            try cdnsd.start(svc: svc)
        }

        static func secret(_ output: String) throws -> String {
            String(try #require(output.split(separator: "\n").first { $0.hasPrefix("secret: ") }?.dropFirst("secret: ".count)))
        }

        /// The transfer key and an UPDATE key for A and TXT anywhere in svc.test, both known to the daemon.
        mutating func addKeys() async throws {
            transferSecret = try Self.secret(try cdnsd.command(["tsig", "add", SecondaryConsistencyTests.transferKey, "--transfer"]).output)
            writerSecret = try Self.secret(try cdnsd.command(["tsig", "add", "writer", "--allow", "*.svc.test", "--types", "A,TXT", "--names", "--from", "127.0.0.1"]).output)
            for credential in [transferCredential, writerCredential] {
                let port = cdnsd.dnsPort
                try await waitUntil("key \(credential.name) known to the daemon", timeout: 30) {
                    let query = try DNSMessage(header: DNSHeader(id: 1), questions: [Question(name: SecondaryConsistencyTests.zone, type: .soa)]).encode()
                    let signed = TSIGSigner(credential: credential).sign(request: query, time: UInt64(Date().timeIntervalSince1970))
                    return try DNSMessage(decoding: try TestDNSClient.udp(signed.message, port: port)).header.rcode == .noError
                }
            }
        }

        var transferCredential: TSIGCredential {
            TSIGCredential(name: try! DNSName(SecondaryConsistencyTests.transferKey), algorithm: .hmacSHA256, secret: Base64.decode(transferSecret) ?? [])
        }
        var writerCredential: TSIGCredential {
            TSIGCredential(name: "writer.", algorithm: .hmacSHA256, secret: Base64.decode(writerSecret) ?? [])
        }
        var secondaryKey: SecondaryKey { SecondaryKey(name: SecondaryConsistencyTests.transferKey, secret: transferSecret) }
        var log: String { cdnsd.process?.output ?? "" }
        var primary: SocketAddress { try! SocketAddress(ipAddress: "127.0.0.1", port: Int(cdnsd.dnsPort)) }

        /// One signed UPDATE to svc.test; its rcode.
        func update(_ updates: [ResourceRecord], id: UInt16 = UInt16.random(in: 1...UInt16.max)) throws -> ResponseCode {
            let message = try DNSMessage(header: DNSHeader(id: id, opcode: .update), questions: [Question(name: SecondaryConsistencyTests.zone, type: .soa)], authority: updates).encode()
            let signed = TSIGSigner(credential: writerCredential).sign(request: message, time: UInt64(Date().timeIntervalSince1970))
            return try DNSMessage(decoding: try TestDNSClient.tcp(signed.message, port: cdnsd.dnsPort)).header.rcode
        }
    }

    static func txt(_ name: DNSName, _ value: String, ttl: UInt32 = 60) -> ResourceRecord { ResourceRecord(name: name, ttl: ttl, data: .txt(TXT(text: value))) }
    static func deleteRRset(_ name: DNSName, _ type: RRType) -> ResourceRecord { ResourceRecord(name: name, class: .any, ttl: 0, data: .opaque(type, [])) }

    /// The A addresses `port` answers at `name`.
    static func addresses(_ name: DNSName, port: UInt16) -> [String] {
        guard let query = try? DNSMessage(header: DNSHeader(id: 5), questions: [Question(name: name, type: .a)]).encode(),
              let reply = try? DNSMessage(decoding: TestDNSClient.udp(query, port: port)) else { return [] }
        return reply.answers.compactMap { if case .a(let address) = $0.data { address.description } else { nil } }
    }

    @Test("knotd and nsd follow RFC 2136 (nsupdate: a challenge value, a new A record, their removal) and a forgotten httpreq value expiring, each by NOTIFY + IXFR",
          .enabled(if: Programs.runnable("knotd", "nsd", "nsupdate", "curl")))
    func followUpdatesAndExpiry() async throws {
        let nsupdate = try Programs.require("nsupdate")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var setup = try Setup(in: directory, sections: "[challenge]\nexpire_after = \"30s\"\n")
        defer { setup.cdnsd.stop() }
        try await setup.addKeys()
        let knot = try KnotSecondary.start(zone: "svc.test", port: setup.knotPort, primaryPort: setup.cdnsd.dnsPort, key: setup.secondaryKey, in: directory)
        defer { knot.process.stop() }
        let nsd = try NSDSecondary.start(zone: "svc.test", port: setup.nsdPort, primaryPort: setup.cdnsd.dnsPort, key: setup.secondaryKey, in: directory)
        defer { nsd.process.stop() }
        let ports = [knot.port, nsd.port]
        let serial = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        try await waitUntil("both secondaries at serial \(serial)", timeout: 30) { ports.allSatisfy { TestDNSClient.serial(Self.zone, port: $0) == serial } }

        // nsupdate, as operators and certbot's rfc2136 plugin do: a challenge value and a new host.
        let y = "hmac-sha256:writer:\(setup.writerSecret)"
        let challenge: DNSName = "_acme-challenge.rfc.svc.test."
        let add = try directory.file("add.txt", UpdateTests.script(port: setup.cdnsd.dnsPort, [
            "update add \(challenge) 60 TXT \"rfc2136-value\"", "update add new.svc.test. 300 A 10.9.9.9",
        ]))
        let added = try ManagedProcess.run(nsupdate, ["-y", y, add])
        #expect(added.status == 0, "\(added.output)")
        try await waitUntil("the UPDATE's TXT and A on knotd and nsd", timeout: 10) {
            try ports.allSatisfy { try TestDNSClient.txtValues(challenge, port: $0) == ["rfc2136-value"] && Self.addresses("new.svc.test.", port: $0) == ["10.9.9.9"] }
        }
        let delete = try directory.file("delete.txt", UpdateTests.script(port: setup.cdnsd.dnsPort, [
            "update delete \(challenge) TXT", "update delete new.svc.test. A",
        ]))
        #expect(try ManagedProcess.run(nsupdate, ["-y", y, delete]).status == 0)
        try await waitUntil("the UPDATE's removals on knotd and nsd", timeout: 10) {
            // (new.svc.test then answers from *.svc.test. A 10.8.10.252.)
            try ports.allSatisfy { try TestDNSClient.txtValues(challenge, port: $0).isEmpty && !Self.addresses("new.svc.test.", port: $0).contains("10.9.9.9") }
        }

        // httpreq /present with no /cleanup: the value expires after 30 s, on the secondaries too.
        let credential = try setup.cdnsd.command(["credential", "add", "lego", "--allow", "*.svc.test", "--from", "127.0.0.0/8"])
        let basic = "Authorization: Basic " + Data("lego:\(try Setup.secret(credential.output))".utf8).base64EncodedString()
        let forgotten: DNSName = "_acme-challenge.forgotten.svc.test."
        let value = "forgotten-value-0123456789-0123456789-abcde"
        #expect(credential.status == 0, "\(credential.output)")
        var lastStatus = 0
        do {
            try await waitUntil("credential known to the daemon", timeout: 30) {
                lastStatus = try RawHTTP.post(port: setup.cdnsd.apiPort, path: "/present", body: "{\"fqdn\":\"\(forgotten)\",\"value\":\"\(value)\"}", headers: [basic]).status
                return lastStatus == 200
            }
        } catch {
            Issue.record("last /present status \(lastStatus); log: \(setup.log.suffix(2000))")
            throw error
        }
        let presented = Date()
        // And one added by UPDATE and never deleted: the same expiry applies.
        let forgottenUpdate: DNSName = "_acme-challenge.forgotten-rfc.svc.test."
        let addForgotten = try directory.file("forgotten.txt", UpdateTests.script(port: setup.cdnsd.dnsPort, ["update add \(forgottenUpdate) 60 TXT \"rfc2136-forgotten\""]))
        #expect(try ManagedProcess.run(nsupdate, ["-y", y, addForgotten]).status == 0)
        let updated = Date()
        try await waitUntil("the presented value on knotd and nsd", timeout: 10) {
            try ports.allSatisfy { try TestDNSClient.txtValues(forgotten, port: $0) == [value] && TestDNSClient.txtValues(forgottenUpdate, port: $0) == ["rfc2136-forgotten"] }
        }
        try await waitUntil("the value expired on cdnsd", timeout: 60) { try setup.cdnsd.txt(forgotten.description).isEmpty }
        let expired = Date()
        try await waitUntil("the UPDATE's value expired on cdnsd", timeout: 60) { try setup.cdnsd.txt(forgottenUpdate.description).isEmpty }
        let updateExpired = Date()
        try await waitUntil("the expiry on knotd and nsd", timeout: 10) {
            try ports.allSatisfy { try TestDNSClient.txtValues(forgotten, port: $0).isEmpty && TestDNSClient.txtValues(forgottenUpdate, port: $0).isEmpty }
        }
        print("secondaries: expiry \(String(format: "%.1f", expired.timeIntervalSince(presented))) s after /present, \(String(format: "%.1f", updateExpired.timeIntervalSince(updated))) s after UPDATE, on both secondaries \(String(format: "%.0f", Date().timeIntervalSince(updateExpired) * 1000)) ms later")
        #expect(expired.timeIntervalSince(presented) >= 29, "expired after \(expired.timeIntervalSince(presented)) s")
        #expect(updateExpired.timeIntervalSince(updated) >= 29, "the UPDATE's value expired after \(updateExpired.timeIntervalSince(updated)) s")

        let ixfrs = setup.log.components(separatedBy: "kind=ixfr ").count - 1
        #expect(ixfrs >= 4, "IXFRs served: \(ixfrs)\n\(setup.log.suffix(3000))")
        let metrics = try Curl.get("\(setup.cdnsd.apiURL)/metrics").body
        #expect(metrics.contains("cdnsd_dns_transfers_total{kind=\"ixfr\"}"), "\(metrics)")
        #expect(metrics.contains("cdnsd_notifies_total{outcome=\"acked\"}"))
        #expect(!metrics.contains("outcome=\"unverified\""), "every signed NOTIFY answer verified")
    }

    /// One transfer as a secondary or the test saw it.
    struct Sample {
        var source: String
        var serial: UInt32
        var records: Set<ResourceRecord>
    }

    /// A zone as a set of records without its SOA; the serial apart.
    static func content(_ records: [ResourceRecord]) -> (serial: UInt32, records: Set<ResourceRecord>)? {
        guard case .soa(let soa)? = records.first?.data else { return nil }
        return (soa.serial, Set(records.filter { $0.type != .soa }))
    }

    @Test("no torn transfer: 100 concurrent writers (70 UPDATE pairs, 30 acme-dns /update) while the test, knotd and nsd transfer; every transfer equals the snapshot the primary had at its serial, rebuilt from the journal",
          .enabled(if: Programs.runnable("knotd", "nsd", "curl")))
    func noTornTransfer() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let bulk = (0..<500).map { "bulk\($0).svc.test. TXT \\\"\(String(repeating: "b", count: 60))-\($0)\\\"" }
        var setup = try Setup(in: directory, svc: bulk)
        defer { setup.cdnsd.stop() }
        try await setup.addKeys()
        let knot = try KnotSecondary.start(zone: "svc.test", port: setup.knotPort, primaryPort: setup.cdnsd.dnsPort, key: setup.secondaryKey, in: directory)
        defer { knot.process.stop() }
        let nsd = try NSDSecondary.start(zone: "svc.test", port: setup.nsdPort, primaryPort: setup.cdnsd.dnsPort, key: setup.secondaryKey, in: directory)
        defer { nsd.process.stop() }
        let startSerial = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        try await waitUntil("both secondaries at serial \(startSerial)", timeout: 30) {
            [knot.port, nsd.port].allSatisfy { TestDNSClient.serial(Self.zone, port: $0) == startSerial }
        }
        let primary = setup.primary
        let credential = setup.transferCredential
        let base = try #require(Self.content(try ZoneTransferClient.axfr(zone: Self.zone, from: primary, credential: credential)))
        #expect(base.serial == startSerial)

        // 30 acme-dns accounts for the /update writers.
        var accounts: [(user: String, key: String, subdomain: String)] = []
        for _ in 0..<30 {
            let registered = try Curl.post("\(setup.cdnsd.apiURL)/register", json: "{}")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(registered.body.utf8)) as? [String: Any])
            accounts.append((object["username"] as? String ?? "", object["password"] as? String ?? "", object["subdomain"] as? String ?? ""))
        }
        let afterRegister = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        #expect(afterRegister == startSerial, "registering accounts changes no served data")

        let writes = 4
        let failures = NIOLockedValueBox<[String]>([])
        let samples = NIOLockedValueBox<[Sample]>([])
        let writing = NIOLockedValueBox(true)
        let dropped = NIOLockedValueBox<[String: Int]>([:])
        let knotAddress = try SocketAddress(ipAddress: "127.0.0.1", port: Int(knot.port))
        let nsdAddress = try SocketAddress(ipAddress: "127.0.0.1", port: Int(nsd.port))
        let group = DispatchGroup()
        func thread(_ body: @escaping @Sendable () -> Void) {
            group.enter()
            let worker = Thread { body(); group.leave() }
            worker.stackSize = 1 << 20
            worker.start()
        }
        let snapshotSetup = setup
        // Samplers: AXFR from cdnsd (signed), knotd and nsd, over and over while the writers run.
        for (source, address, key) in [("cdnsd", primary, credential as TSIGCredential?), ("knotd", knotAddress, nil), ("nsd", nsdAddress, nil)] {
            thread {
                repeat {
                    do {
                        let records = try ZoneTransferClient.transfer(zone: Self.zone, type: .axfr, from: address, credential: key)
                        guard records.first?.data == records.last?.data, let content = Self.content(Array(records.dropLast())) else {
                            failures.withLockedValue { $0.append("\(source): SOA first and last differ") }
                            continue
                        }
                        samples.withLockedValue { $0.append(Sample(source: source, serial: content.serial, records: content.records)) }
                    } catch {
                        // nsd and knotd may drop a connection while they reload; cdnsd must not.
                        if source == "cdnsd" { failures.withLockedValue { $0.append("\(source) AXFR: \(error)") } }
                        dropped.withLockedValue { $0[source, default: 0] += 1 }
                    }
                    usleep(20_000)
                } while writing.withLockedValue { $0 }
            }
        }
        usleep(100_000)
        let writers = DispatchGroup()
        for writer in 0..<70 {
            writers.enter()
            thread {
                defer { writers.leave() }
                let a = try! DNSName("a.w\(writer).svc.test.")
                let b = try! DNSName("b.w\(writer).svc.test.")
                for round in 0..<writes {
                    usleep(UInt32.random(in: 0...40_000))
                    let value = "w\(writer)-r\(round)"
                    do {
                        let rcode = try snapshotSetup.update([Self.deleteRRset(a, .txt), Self.txt(a, value), Self.deleteRRset(b, .txt), Self.txt(b, value)])
                        if rcode != .noError { failures.withLockedValue { $0.append("UPDATE \(value): \(rcode)") } }
                    } catch {
                        failures.withLockedValue { $0.append("UPDATE \(value): \(error)") }
                    }
                }
            }
        }
        for (index, account) in accounts.enumerated() {
            writers.enter()
            thread {
                defer { writers.leave() }
                for round in 0..<writes {
                    usleep(UInt32.random(in: 0...40_000))
                    let value = String(format: "acme-%02d-%02d-", index, round) + String(repeating: "v", count: 32)
                    do {
                        let (status, _) = try RawHTTP.post(port: snapshotSetup.cdnsd.apiPort, path: "/update", body: "{\"subdomain\":\"\(account.subdomain)\",\"txt\":\"\(value)\"}",
                                                           headers: ["X-Api-User: \(account.user)", "X-Api-Key: \(account.key)"])
                        if status != 200 { failures.withLockedValue { $0.append("/update \(value): \(status)") } }
                    } catch {
                        failures.withLockedValue { $0.append("/update \(value): \(error)") }
                    }
                }
            }
        }
        writers.wait()
        let finalSerial = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        try await waitUntil("both secondaries at the final serial \(finalSerial)", timeout: 30) {
            [knot.port, nsd.port].allSatisfy { TestDNSClient.serial(Self.zone, port: $0) == finalSerial }
        }
        writing.withLockedValue { $0 = false }
        group.wait()
        // One more from each at the final serial.
        for (source, address, key) in [("cdnsd", primary, credential as TSIGCredential?), ("knotd", knotAddress, nil), ("nsd", nsdAddress, nil)] {
            let content = try #require(Self.content(try ZoneTransferClient.axfr(zone: Self.zone, from: address, credential: key)))
            samples.withLockedValue { $0.append(Sample(source: source, serial: content.serial, records: content.records)) }
        }
        #expect(failures.withLockedValue { $0 }.isEmpty, "\(failures.withLockedValue { $0.prefix(20) })")

        // Every snapshot the primary had, rebuilt from the AXFR at the start and the journal (IXFR from that serial).
        let old = ResourceRecord(name: Self.zone, ttl: 0, data: .soa(SOA(mname: Self.zone, rname: Self.zone, serial: startSerial, refresh: 0, retry: 0, expire: 0, minimum: 0)))
        let ixfr = try ZoneTransferClient.transfer(zone: Self.zone, type: .ixfr, clientSOA: old, from: primary, credential: credential)
        var snapshots: [UInt32: Set<ResourceRecord>] = [startSerial: base.records]
        var current = base.records
        var index = 1
        func serial(_ record: ResourceRecord) -> UInt32? { if case .soa(let soa) = record.data { soa.serial } else { nil } }
        while index < ixfr.count - 1 {
            // old SOA, removed..., new SOA, added...
            index += 1
            while index < ixfr.count, ixfr[index].type != .soa { current.remove(ixfr[index]); index += 1 }
            guard index < ixfr.count, let to = serial(ixfr[index]) else { break }
            index += 1
            while index < ixfr.count, ixfr[index].type != .soa { current.insert(ixfr[index]); index += 1 }
            snapshots[to] = current
        }
        #expect(snapshots[finalSerial] != nil, "the journal reaches the final serial \(finalSerial) (has \(snapshots.keys.sorted().suffix(3)))")
        let all = samples.withLockedValue { $0 }
        var checked: [String: Set<UInt32>] = [:]
        for sample in all {
            checked[sample.source, default: []].insert(sample.serial)
            guard let expected = snapshots[sample.serial] else {
                Issue.record("\(sample.source): serial \(sample.serial) is not one the primary had")
                continue
            }
            if sample.records != expected {
                Issue.record("\(sample.source) at \(sample.serial): \(sample.records.subtracting(expected).count) records the primary never had with it, \(expected.subtracting(sample.records).count) missing")
            }
            // The pairs one UPDATE wrote together are equal in every transfer.
            var pairs: [String: [String: String]] = [:]
            for record in sample.records {
                let labels = record.name.description.split(separator: ".")
                guard labels.count == 4, labels[1].hasPrefix("w"), case .txt(let txt) = record.data else { continue }
                pairs[String(labels[1]), default: [:]][String(labels[0])] = "\(txt)"
            }
            for (writer, pair) in pairs where pair["a"] != pair["b"] {
                Issue.record("\(sample.source) at \(sample.serial): torn pair \(writer): \(pair)")
            }
        }
        let total = writes * 100
        print("no torn transfer: \(total) writes, serials \(startSerial)→\(finalSerial) (\(snapshots.count) snapshots), transfers checked: "
              + checked.map { entry in "\(entry.key) \(all.filter { $0.source == entry.key }.count) at \(entry.value.count) serials" }.sorted().joined(separator: ", ")
              + "; connections dropped by secondaries: \(dropped.withLockedValue { $0 })")
        #expect(checked["cdnsd"].map { $0.count > 1 } == true, "the cdnsd samples saw the zone change")
    }

    @Test("notify_nameservers = true: a knotd at the zone's second NS host (127.0.0.77, port 53) is told of each change; the mname is not; its signed answer verifies",
          .enabled(if: Programs.runnable("knotd", "curl")))
    func notifyNameservers() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var cdnsd = try ChallengeDaemon(in: directory)
        cdnsd.svcNameservers = ["ns.svc.test", "ns2.svc.test"]
        cdnsd.svcZoneLines = [
            "transfer = { allow = [\"127.0.0.1/32\"], keys = [\"\(Self.transferKey)\"] }",
            "notify_nameservers = true",
        ]
        try cdnsd.start(svc: ["ns2.svc.test. A 127.0.0.77"])
        var setup = Setup(existing: cdnsd)
        defer { setup.cdnsd.stop() }
        try await setup.addKeys()
        let knot = try KnotSecondary.start(zone: "svc.test", port: 53, primaryPort: setup.cdnsd.dnsPort, key: setup.secondaryKey, listen: "127.0.0.77", in: directory)
        defer { knot.process.stop() }
        func knotSerial() -> UInt32? {
            guard let query = try? DNSMessage(header: DNSHeader(id: 9), questions: [Question(name: Self.zone, type: .soa)]).encode(),
                  let bytes = try? TestDNSClient.udp(query, port: 53, host: "127.0.0.77", timeout: 0.5), let reply = try? DNSMessage(decoding: bytes),
                  case .soa(let soa)? = reply.answers.first?.data else { return nil }
            return soa.serial
        }
        let serial = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        try await waitUntil("knotd on 127.0.0.77:53 at serial \(serial)", timeout: 30) { knotSerial() == serial }
        // knotd's own refresh timer is hours away: only a NOTIFY brings the change within seconds.
        sleep(1)
        #expect(try setup.update([Self.txt("_acme-challenge.ns-notify.svc.test.", "by-notify")]) == .noError)
        let changed = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        try await waitUntil("knotd at the new serial \(changed)", timeout: 5) { knotSerial() == changed }
        #expect(setup.log.contains("target=127.0.0.77:53"), "\(setup.log.suffix(2000))")
        #expect(setup.log.contains("NOTIFY acknowledged"))
        let metrics = try Curl.get("\(setup.cdnsd.apiURL)/metrics").body
        #expect(!metrics.contains("outcome=\"unverified\""))
    }

    @Test("BIND 9 named as a TSIG secondary (Docs/secondaries.md): loads by AXFR, follows an acme-dns /update and an UPDATE removal by NOTIFY + IXFR",
          .enabled(if: Programs.runnable("named", "curl")))
    func bindSecondary() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var setup = try Setup(in: directory)
        defer { setup.cdnsd.stop() }
        try await setup.addKeys()
        // The knotd port of the setup's notify list is where named listens.
        let named = try BINDSecondary.start(zone: "svc.test", port: setup.knotPort, primaryPort: setup.cdnsd.dnsPort, key: setup.secondaryKey, in: directory)
        defer { named.process.stop() }
        let serial = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        try await waitUntil("named at serial \(serial)", timeout: 30) { TestDNSClient.serial(Self.zone, port: named.port) == serial }
        let registered = try Curl.post("\(setup.cdnsd.apiURL)/register", json: "{}")
        let account = try #require(try JSONSerialization.jsonObject(with: Data(registered.body.utf8)) as? [String: Any])
        let fulldomain = try DNSName(try #require(account["fulldomain"] as? String))
        let value = String(repeating: "b", count: 43)
        let (status, replied) = try RawHTTP.post(port: setup.cdnsd.apiPort, path: "/update", body: "{\"subdomain\":\"\(account["subdomain"] ?? "")\",\"txt\":\"\(value)\"}",
                                                 headers: ["X-Api-User: \(account["username"] ?? "")", "X-Api-Key: \(account["password"] ?? "")"])
        #expect(status == 200)
        try await waitUntil("the value on named", timeout: 10) { try TestDNSClient.txtValues(fulldomain, port: named.port) == [value] }
        print("BIND secondary: /update reply to value on named \(String(format: "%.1f", Date().timeIntervalSince(replied) * 1000)) ms")
        #expect(try setup.update([Self.txt("_acme-challenge.bind.svc.test.", "via-update")]) == .noError)
        try await waitUntil("the UPDATE on named", timeout: 10) { try TestDNSClient.txtValues("_acme-challenge.bind.svc.test.", port: named.port) == ["via-update"] }
        #expect(try setup.update([Self.deleteRRset("_acme-challenge.bind.svc.test.", .txt)]) == .noError)
        try await waitUntil("the removal on named", timeout: 10) { try TestDNSClient.txtValues("_acme-challenge.bind.svc.test.", port: named.port).isEmpty }
        #expect(setup.log.contains("kind=ixfr "), "\(setup.log.suffix(2000))")
        #expect(named.process.output.contains("Transfer status: success"), "\(named.process.output.suffix(2000))")
    }

    @Test("pebble validating dns-01 against the knotd secondary (not cdnsd) issues *.svc.test and svc.test to lego publishing to cdnsd through httpreq",
          .enabled(if: Programs.runnable("knotd", "pebble", "lego", "openssl", "curl")))
    func pebbleThroughKnot() async throws {
        let lego = try Programs.require("lego")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var setup = try Setup(in: directory)
        defer { setup.cdnsd.stop() }
        try await setup.addKeys()
        let knot = try KnotSecondary.start(zone: "svc.test", port: setup.knotPort, primaryPort: setup.cdnsd.dnsPort, key: setup.secondaryKey, in: directory)
        defer { knot.process.stop() }
        let serial = try #require(TestDNSClient.serial(Self.zone, port: setup.cdnsd.dnsPort))
        try await waitUntil("knotd at serial \(serial)", timeout: 30) { TestDNSClient.serial(Self.zone, port: knot.port) == serial }
        let pebble = try PebbleServer.start(in: directory, dnsPort: knot.port)
        defer { pebble.process.stop() }
        let added = try setup.cdnsd.command(["credential", "add", "lego", "--allow", "*.svc.test", "--from", "127.0.0.0/8"])
        let secret = try Setup.secret(added.output)
        let basic = "Authorization: Basic " + Data("lego:\(secret)".utf8).base64EncodedString()
        try await waitUntil("credential known to the daemon", timeout: 30) {
            try Curl.post("\(setup.cdnsd.apiURL)/present", json: "{}", headers: [basic]).status != 401
        }
        // knotd refreshes a zone at most once a second: start after a quiet second, as a CA's first validation would.
        sleep(1)
        let started = Date()
        let run = try ManagedProcess.run(lego, [
            "--server", pebble.directoryURL, "--email", "admin@svc.test", "--accept-tos", "--path", directory.url.appendingPathComponent("lego").path,
            "--dns", "httpreq", "--dns.resolvers", "127.0.0.1:\(knot.port)", "--dns.disable-cp", "-d", "*.svc.test", "-d", "svc.test", "run",
        ], environment: [
            "LEGO_CA_CERTIFICATES": pebble.httpsCA, "HTTPREQ_ENDPOINT": setup.cdnsd.apiURL,
            "HTTPREQ_USERNAME": "lego", "HTTPREQ_PASSWORD": secret,
        ], timeout: 120)
        let elapsed = Date().timeIntervalSince(started)
        #expect(run.status == 0, "lego: \(run.output.suffix(3000))\npebble: \(pebble.process.output.suffix(3000))\nknotd: \(knot.process.output.suffix(2000))")
        let chain = directory.url.appendingPathComponent("lego/certificates/_.svc.test.crt").path
        #expect(FileManager.default.fileExists(atPath: chain))
        // pebble asked knotd, never cdnsd: knotd's answers are the only ones it could use.
        #expect(pebble.process.output.contains("127.0.0.1:\(knot.port)") || !pebble.process.output.contains("127.0.0.1:\(setup.cdnsd.dnsPort)"))
        #expect(knot.process.output.contains("IXFR"), "\(knot.process.output.suffix(2000))")
        print("pebble via knotd: lego issued *.svc.test + svc.test in \(String(format: "%.1f", elapsed)) s")
        try await waitUntil("cleanup reached knotd", timeout: 10) { try TestDNSClient.txtValues("_acme-challenge.svc.test.", port: knot.port).isEmpty }
    }
}
