// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "cdnsd",
    products: [
        .library(name: "DNSWire", targets: ["DNSWire"]),
        .library(name: "ZoneStore", targets: ["ZoneStore"]),
        .library(name: "DNSServer", targets: ["DNSServer"]),
        .executable(name: "cdnsd", targets: ["cdnsd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .target(name: "DNSWire"),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "ZoneStore", dependencies: ["DNSWire", "CSQLite"]),
        .target(
            name: "DNSServer",
            dependencies: [
                "DNSWire", "ZoneStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "CDNSDaemon",
            dependencies: [
                "DNSWire", "ZoneStore", "DNSServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]),
        .executableTarget(name: "cdnsd", dependencies: ["CDNSDaemon"]),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire"], resources: [.copy("Vectors")]),
        .testTarget(name: "ZoneStoreTests", dependencies: ["ZoneStore", "DNSWire"]),
        .testTarget(
            name: "DNSServerTests",
            dependencies: [
                "DNSServer", "ZoneStore", "DNSWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .executableTarget(name: "StoreCrashWriter", dependencies: ["DNSWire", "ZoneStore"], path: "Tests/StoreCrashWriter"),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["DNSWire", "ZoneStore"]),
    ],
    swiftLanguageModes: [.v6]
)
