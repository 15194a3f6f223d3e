// swift-tools-version: 6.1
// The libFuzzer target over DNSWire. A package of its own so that CI's build
// of the main package never compiles it; `Scripts/fuzz.sh` builds and runs it.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where
// the repository was cloned.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "cdnsd-fuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "FuzzDNSWire",
            dependencies: [.product(name: "DNSWire", package: root)]),
    ],
    swiftLanguageModes: [.v6]
)
