import ACMEClient
import Foundation

/// Where cdnsd keeps what ACME gave it: `<data>/acme/account.key`, and per
/// certificate `<name>.pem` (the chain) and `<name>.key`. Keys are written
/// at mode 0600 in a 0700 directory, each file replaced by rename.
struct CertificateFiles {
    let directory: String

    init(configuration: CDNSConfiguration) {
        let data = URL(fileURLWithPath: configuration.storage.path).deletingLastPathComponent()
        directory = data.appendingPathComponent("acme").path
    }

    /// A file-system-safe stem for a certificate's first name (`*.svc.dev` → `_.svc.dev`).
    static func stem(_ name: String) -> String {
        name.replacingOccurrences(of: "*", with: "_").replacingOccurrences(of: "/", with: "_")
    }

    func chainPath(_ name: String) -> String { "\(directory)/\(Self.stem(name)).pem" }
    func keyPath(_ name: String) -> String { "\(directory)/\(Self.stem(name)).key" }

    /// The account key, created on first use.
    func accountKey() throws -> PrivateKey {
        let path = "\(directory)/account.key"
        if let pem = try? String(contentsOfFile: path, encoding: .utf8) { return try PrivateKey(pem: pem) }
        let key = try PrivateKey(generating: .p256)
        try write(key.pem, to: path, mode: 0o600)
        return key
    }

    /// The stored chain and key for `name`, if both are there.
    func stored(_ name: String) -> (chain: String, key: String)? {
        guard let chain = try? String(contentsOfFile: chainPath(name), encoding: .utf8),
              let key = try? String(contentsOfFile: keyPath(name), encoding: .utf8) else { return nil }
        return (chain, key)
    }

    func store(_ name: String, chain: String, key: String) throws {
        try write(key, to: keyPath(name), mode: 0o600)
        try write(chain, to: chainPath(name), mode: 0o644)
    }

    /// Where managed certificates (`cert issue`) are recorded.
    var managedDirectory: String { "\(directory)/managed" }

    /// Every stored certificate's chain path.
    func chains() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".pem") }.sorted().map { "\(directory)/\($0)" }
    }

    /// Writes under the data directory, which is made owner-only first.
    func write(_ text: String, to path: String, mode: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try AtomicFile.write(text, to: path, mode: mode)
    }
}
