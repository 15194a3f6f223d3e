// swift-tools-version: 6.1
// DNSWire and ZoneStore embedded in another program: build and parse a DNS
// message, fill an in-memory zone and answer a question from it.
// Scripts/test.sh builds and runs it, so an API change that breaks an
// embedder fails the tests.
import PackageDescription

let package = Package(
    name: "EmbedDNSWire",
    dependencies: [.package(name: "cdnsd", path: "../..")],
    targets: [
        .executableTarget(
            name: "EmbedDNSWire",
            dependencies: [.product(name: "DNSWire", package: "cdnsd"), .product(name: "ZoneStore", package: "cdnsd")]),
    ],
    swiftLanguageModes: [.v6]
)
