import Foundation
import Testing

/// Finds the real programs integration tests drive, and decides whether a
/// missing one skips the test or fails it (`CDNS_REQUIRE_INTEGRATION=1`).
enum Programs {
    static var required: Bool { ProcessInfo.processInfo.environment["CDNS_REQUIRE_INTEGRATION"] == "1" }

    static func path(_ name: String) -> String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin"]
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// For `.enabled(if:)`: true when the programs exist, or when they are
    /// required (the test then runs and fails in `require`).
    static func runnable(_ names: String...) -> Bool {
        required || names.allSatisfy { path($0) != nil }
    }

    static func require(_ name: String) throws -> String {
        guard let found = path(name) else {
            throw TestSetupError("\(name) is not installed; Scripts/test.sh installs it (CDNS_REQUIRE_INTEGRATION=1 makes this a failure)")
        }
        return found
    }

    /// The cdnsd binary built beside this test bundle, or the one `CDNS_TEST_CDNSD` names
    /// (to run the suite against the shipped build of Scripts/build-release.sh). The recipe
    /// tests put its directory on PATH and call it by name, so the file must be named cdnsd.
    static var cdnsd: String { ProcessInfo.processInfo.environment["CDNS_TEST_CDNSD"] ?? built("cdnsd") }

    /// An executable of this package, built beside this test bundle.
    static func built(_ product: String) -> String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let besideTests = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(product).path
        if FileManager.default.isExecutableFile(atPath: besideTests) { return besideTests }
        return repositoryRoot.appendingPathComponent(".build/debug/\(product)").path
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A fresh temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cdnsd-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String, _ contents: String) throws -> String {
        let path = url.appendingPathComponent(name).path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
