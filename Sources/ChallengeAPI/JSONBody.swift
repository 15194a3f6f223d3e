import Foundation
import Hummingbird
import NIOCore

/// A request's JSON object with its keys lowercased: acme-dns matches keys
/// case-insensitively, and lego's acme-dns client sends `SubDomain` and `Txt`.
struct JSONBody {
    private var fields: [String: Any]

    /// Reads at most `limit` bytes of `request`'s body as a JSON object.
    /// An empty body is an empty object when `emptyIsObject`.
    static func read(_ request: inout Request, limit: Int, emptyIsObject: Bool = false) async throws -> JSONBody {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError.bodyTooLarge
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge
        }
        if buffer.readableBytes == 0 || buffer.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            if emptyIsObject { return JSONBody(fields: [:]) }
            throw APIError.malformedJSON("empty body")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))
        } catch {
            throw APIError.malformedJSON("not JSON")
        }
        guard let dictionary = object as? [String: Any] else {
            throw APIError.malformedJSON("not a JSON object")
        }
        var fields: [String: Any] = [:]
        for (key, value) in dictionary { fields[key.lowercased()] = value }
        return JSONBody(fields: fields)
    }

    /// Whether the key is present at all.
    func has(_ key: String) -> Bool { fields[key] != nil }

    /// The string at `key`; nil when absent or not a string.
    func string(_ key: String) -> String? { fields[key] as? String }

    /// The array of strings at `key`: nil when absent, `error` when it is something else.
    func strings(_ key: String, error: APIError) throws(APIError) -> [String]? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        guard let array = value as? [Any] else { throw error }
        var strings: [String] = []
        for item in array {
            guard let text = item as? String else { throw error }
            strings.append(text)
        }
        return strings
    }

    /// Encodes a flat object of strings and string arrays, keys sorted.
    static func encode(_ object: [String: any Sendable]) -> ByteBuffer {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var buffer = ByteBuffer(bytes: data)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}
