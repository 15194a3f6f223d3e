import Foundation
import HTTPTypes
import Hummingbird

/// A refusal the API answers with: an HTTP status and the JSON body
/// `{"error":"<code>"}` that acme-dns clients expect (`forbidden`,
/// `bad_txt`, `bad_subdomain`, `malformed_json_payload`, …).
///
/// Every client mistake becomes one of these, never a 500.
public struct APIError: HTTPResponseError, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// The machine-readable code in the body.
    public var code: String
    /// Why, for the log; never sent to the client.
    public var detail: String
    /// Seconds after which a refused client may try again (`Retry-After`), for 429 and 503.
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, detail: String = "", retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.detail = detail
        self.retryAfter = retryAfter
    }

    public var description: String { detail.isEmpty ? "\(status.code) \(code)" : "\(status.code) \(code): \(detail)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized {
            headers[.wwwAuthenticate] = "Basic realm=\"cdnsd\""
        }
        if let retryAfter {
            headers[.retryAfter] = String(retryAfter)
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: JSONBody.encode(["error": code])))
    }

    /// acme-dns: unknown user, wrong key, disallowed source or another account's subdomain.
    static func forbidden(_ detail: String) -> APIError { APIError(.unauthorized, "forbidden", detail: detail) }
    static func malformedJSON(_ detail: String) -> APIError { APIError(.badRequest, "malformed_json_payload", detail: detail) }
    static let badTXT = APIError(.badRequest, "bad_txt", detail: "a challenge value is 43 characters of base64url")
    static let bodyTooLarge = APIError(.contentTooLarge, "body_too_large")
    static let storeUnavailable = APIError(.serviceUnavailable, "store_unavailable")
    static let internalError = APIError(.internalServerError, "internal_error")
    /// 429 `rate_limited`: the client's source spent its allowance (or bcrypt is saturated).
    static func rateLimited(retryAfter: Int, _ detail: String) -> APIError {
        APIError(.tooManyRequests, "rate_limited", detail: detail, retryAfter: retryAfter)
    }
}
