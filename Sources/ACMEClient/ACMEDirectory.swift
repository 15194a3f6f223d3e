/// The CA's directory (RFC 8555 §7.1.1): endpoint URLs and metadata.
public struct ACMEDirectory: Sendable {
    public var newNonce: String
    public var newAccount: String
    public var newOrder: String
    /// RFC 9773 ARI, when the CA offers it.
    public var renewalInfo: String?
    public var externalAccountRequired: Bool

    init(json: [String: Any]) throws(ACMEError) {
        guard let newNonce = json["newNonce"] as? String, let newAccount = json["newAccount"] as? String,
              let newOrder = json["newOrder"] as? String else {
            throw ACMEError(.transport, "the directory lacks newNonce, newAccount or newOrder")
        }
        self.newNonce = newNonce
        self.newAccount = newAccount
        self.newOrder = newOrder
        renewalInfo = json["renewalInfo"] as? String
        externalAccountRequired = (json["meta"] as? [String: Any])?["externalAccountRequired"] as? Bool ?? false
    }
}
