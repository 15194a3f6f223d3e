import DNSWire
import Foundation
import HTTPTypes
import Hummingbird
import ZoneStore

/// Admin tokens: kept in the store as API credentials in a namespace of
/// their own (`admin:NAME`). A basic-auth user name cannot hold a `:`, so
/// no admin token ever authenticates /present or /cleanup, and no httpreq
/// credential or acme-dns account ever authenticates the admin API.
public enum AdminToken {
    public static let prefix = "admin:"
    /// `allowedNames` of a token that may change records.
    public static let readWrite = "admin:read-write"
    /// `allowedNames` of a token that may only read.
    public static let readOnly = "admin:read-only"

    /// The stored credential's name for token `name`.
    public static func credentialName(_ name: String) -> String { prefix + name }

    /// Whether `credential` is an admin token rather than an httpreq credential.
    public static func isAdmin(_ credential: APICredential) -> Bool { credential.name.hasPrefix(prefix) }

    /// A token name: letters, digits, `-` and `_` (the token is `NAME.SECRET`).
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
    }
}

/// Stored records as the admin API and `cdnsd record list --json` show them.
public enum AdminRecords {
    public static func object(_ record: ResourceRecord, fromConfiguration: Bool) -> [String: any Sendable] {
        [
            "name": record.name.description, "ttl": Int(record.ttl), "class": "\(record.rrClass)", "type": "\(record.type)",
            "data": "\(record.data)", "source": fromConfiguration ? "config" : "runtime", "presentation": record.description,
        ]
    }

    public static func zoneObject(_ zone: ZoneConfiguration, fromConfiguration: Bool, serial: UInt32?,
                                  records: [(record: ResourceRecord, fromConfiguration: Bool)]) -> [String: any Sendable] {
        [
            "zone": zone.origin.description, "serial": Int(serial ?? zone.serial), "source": fromConfiguration ? "config" : "runtime",
            "records": records.map { object($0.record, fromConfiguration: $0.fromConfiguration) },
        ]
    }

    public static func filter(_ records: [(record: ResourceRecord, fromConfiguration: Bool)], name: DNSName?, type: RRType?)
        -> [(record: ResourceRecord, fromConfiguration: Bool)] {
        records.filter { (name == nil || $0.record.name == name) && (type == nil || $0.record.type == type) }
    }
}

extension ChallengeAPI {
    /// `/admin/v1/…`: zones and their records, behind admin tokens
    /// (`Authorization: Bearer NAME.SECRET`, made by `cdnsd admin-token add`).
    func addAdminRoutes(to router: Router<APIRequestContext>) {
        router.get("/admin/v1/zones") { request, context in
            try await admin(request, context: context, write: false)
            let view = store.view()
            return json(.ok, ["zones": view.zones.map { zone in
                ["zone": zone.configuration.origin.description, "serial": Int(view.serial(of: zone.configuration.origin) ?? zone.configuration.serial),
                 "source": zone.fromConfiguration ? "config" : "runtime"] as [String: any Sendable]
            }])
        }
        router.get("/admin/v1/zones/:zone/records") { request, context in
            try await admin(request, context: context, write: false)
            let (zone, view) = try servedZone(context)
            let name = try request.uri.queryParameters["name"].map { text throws(APIError) in try domainName(String(text), "name") }
            let type = try request.uri.queryParameters["type"].map { text throws(APIError) in try recordType(String(text)) }
            let records = AdminRecords.filter(view.storedRecords(in: zone.configuration.origin), name: name, type: type)
            return json(.ok, AdminRecords.zoneObject(zone.configuration, fromConfiguration: zone.fromConfiguration,
                                                     serial: view.serial(of: zone.configuration.origin), records: records))
        }
        router.post("/admin/v1/zones/:zone/records") { request, context in
            try await admin(request, context: context, write: true)
            let (zone, view) = try servedZone(context)
            var request = request
            let body = try await JSONBody.read(&request, limit: configuration.maxBodySize)
            guard let line = body.string("record") else {
                throw APIError(.badRequest, "bad_record", detail: "the body is {\"record\": \"NAME [TTL] TYPE RDATA\"}")
            }
            let record = try await storeCall { () throws(ZoneStoreError) in try RecordLine.record(line, view: view) }
            try inZone(record.name, zone.configuration.origin, view: view)
            try await storeCall { () throws(ZoneStoreError) in try await store.add([record]) }
            context.logger.info("record added", metadata: ["record": "\(record)"])
            return json(.created, ["record": AdminRecords.object(record, fromConfiguration: false),
                                   "serial": Int(store.view().serial(of: zone.configuration.origin) ?? 0)])
        }
        router.delete("/admin/v1/zones/:zone/records") { request, context in
            try await admin(request, context: context, write: true)
            let (zone, view) = try servedZone(context)
            guard let nameText = request.uri.queryParameters["name"], let typeText = request.uri.queryParameters["type"] else {
                throw APIError(.badRequest, "bad_record", detail: "name and type are required query parameters")
            }
            let name = try domainName(String(nameText), "name")
            let type = try recordType(String(typeText))
            var data: RecordData? = nil
            if let text = request.uri.queryParameters["data"] {
                let target = try await storeCall { () throws(ZoneStoreError) in try RecordLine.removal("\(name) \(type) \(text)") }
                data = target.data
            }
            try inZone(name, zone.configuration.origin, view: view)
            let removed = try await storeCall { () throws(ZoneStoreError) in try await store.removeRuntimeRecords(name: name, type: type, data: data) }
            guard removed > 0 else { throw APIError(.notFound, "no_such_record", detail: "no runtime record \(name) \(type) matches") }
            context.logger.info("records removed", metadata: ["name": "\(name)", "type": "\(type)", "count": "\(removed)"])
            return json(.ok, ["removed": removed, "serial": Int(store.view().serial(of: zone.configuration.origin) ?? 0)])
        }
    }

    /// Authenticates an admin token; `write` needs a read-write one.
    func admin(_ request: Request, context: APIRequestContext, write: Bool) async throws(APIError) {
        let client = try clientAddress(request, context: context)
        guard let value = request.headers[.authorization], value.count > 7, value.prefix(7).lowercased() == "bearer " else {
            throw adminFailure(APIError(.unauthorized, "admin_unauthorized", detail: "no Authorization: Bearer token"), context: context)
        }
        let token = value.dropFirst(7).trimmingCharacters(in: .whitespaces)
        guard let dot = token.firstIndex(of: "."), AdminToken.isValidName(String(token[..<dot])) else {
            throw adminFailure(APIError(.unauthorized, "admin_unauthorized", detail: "not an admin token (NAME.SECRET)"), context: context)
        }
        let name = String(token[..<dot])
        let secret = String(token[token.index(after: dot)...])
        let found = store.credential(name: AdminToken.credentialName(name))
        if let found, !found.allowedSources.isEmpty, !found.allowedSources.compactMap(IPNetwork.init).contains(client) {
            await verifier.delayLikeACheck()
            throw adminFailure(APIError(.forbidden, "forbidden_source", detail: "\(client) is outside the allowed sources of admin token \(name)"), context: context)
        }
        let check = await checkSecret(user: AdminToken.credentialName(name), secret: secret, hash: found?.secretHash, client: client)
        if case .limited(let refusal) = check { throw refusal }
        guard case .verified = check, let found else {
            throw adminFailure(APIError(.unauthorized, "admin_unauthorized", detail: "unknown admin token or wrong secret for \(name)"), context: context)
        }
        if write, !found.allowedNames.contains(AdminToken.readWrite) {
            throw adminFailure(APIError(.forbidden, "admin_read_only", detail: "admin token \(name) is read-only"), context: context)
        }
    }

    func adminFailure(_ error: APIError, context: APIRequestContext) -> APIError {
        metrics.adminAuthFailures.increment()
        context.logger.notice("request refused", metadata: ["api": "admin", "reason": "\(error.detail)"])
        return error
    }

    /// The zone of the path, served now.
    func servedZone(_ context: APIRequestContext) throws(APIError) -> (zone: (configuration: ZoneConfiguration, fromConfiguration: Bool), view: StoreView) {
        let text = context.parameters.get("zone") ?? ""
        let origin = try domainName(text, "zone")
        let view = store.view()
        guard let zone = view.zones.first(where: { $0.configuration.origin == origin }) else {
            throw APIError(.notFound, "no_such_zone", detail: "zone \(origin) is not served here")
        }
        return (zone, view)
    }

    /// A record of the path's zone must not fall in another (deeper) zone.
    func inZone(_ name: DNSName, _ origin: DNSName, view: StoreView) throws(APIError) {
        guard view.zone(containing: name)?.origin == origin else {
            throw APIError(.badRequest, "fqdn_outside_zones", detail: "\(name) is not in zone \(origin)")
        }
    }

    func domainName(_ text: String, _ field: String) throws(APIError) -> DNSName {
        guard let name = try? DNSName(text) else { throw APIError(.badRequest, "bad_name", detail: "\(field) \(text) is not a domain name") }
        return name
    }

    func recordType(_ text: String) throws(APIError) -> RRType {
        guard let type = RRType(mnemonic: text) else { throw APIError(.badRequest, "bad_type", detail: "\(text) is not a record type") }
        return type
    }
}
