/// What went wrong talking ACME: a code, the CA's problem document when
/// there was one (its `type` and `detail` kept as sent), and context.
public struct ACMEError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// A key, CSR or signature operation failed in OpenSSL.
        public static let crypto = Code(name: "crypto")
        /// The CA could not be reached or answered something unreadable.
        public static let transport = Code(name: "transport")
        /// The CA answered with a problem document (RFC 8555 §6.7).
        public static let problem = Code(name: "problem")
        /// An order or authorization ended invalid.
        public static let invalid = Code(name: "invalid")
        /// Polling gave up.
        public static let timeout = Code(name: "timeout")
        /// The solver could not publish or remove a challenge.
        public static let solver = Code(name: "solver")
        public var description: String { name }
    }

    public var code: Code
    /// `urn:ietf:params:acme:error:badNonce` and the like.
    public var problemType: String?
    public var detail: String
    /// HTTP status of the response, when there was one.
    public var status: Int?

    public init(_ code: Code, _ detail: String, problemType: String? = nil, status: Int? = nil) {
        self.code = code
        self.detail = detail
        self.problemType = problemType
        self.status = status
    }

    public var description: String {
        var text = "ACME \(code)"
        if let status { text += " (HTTP \(status))" }
        if let problemType { text += " \(problemType)" }
        return text + ": \(detail)"
    }

    /// Whether the CA rejected the request's nonce (retried with a fresh one).
    public var isBadNonce: Bool { problemType == "urn:ietf:params:acme:error:badNonce" }
}
