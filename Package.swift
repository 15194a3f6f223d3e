// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "cdnsd",
    products: [
        .library(name: "DNSWire", targets: ["DNSWire"]),
    ],
    targets: [
        .target(name: "DNSWire"),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire"], resources: [.copy("Vectors")]),
    ],
    swiftLanguageModes: [.v6]
)
