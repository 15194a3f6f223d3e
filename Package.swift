// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "cdnsd",
    products: [
        .library(name: "DNSWire", targets: ["DNSWire"]),
        .library(name: "ZoneStore", targets: ["ZoneStore"]),
        .library(name: "ZoneStorePostgres", targets: ["ZoneStorePostgres"]),
        .library(name: "DNSServer", targets: ["DNSServer"]),
        .library(name: "ChallengeAPI", targets: ["ChallengeAPI"]),
        .library(name: "ACMEClient", targets: ["ACMEClient"]),
        .executable(name: "cdnsd", targets: ["cdnsd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // `swift package generate-documentation` for the DocC catalogs of DNSWire, ZoneStore and ACMEClient; a plugin only.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(name: "DNSWire"),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "ZoneStore",
            dependencies: ["DNSWire", "CSQLite", .product(name: "HashTreeCollections", package: "swift-collections")]),
        .target(
            name: "ZoneStorePostgres",
            dependencies: [
                "DNSWire", "ZoneStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // recvmmsg/sendmmsg for the UDP fast path (Glibc's module hides them).
        .target(name: "CUDPBatch"),
        .target(
            name: "DNSServer",
            dependencies: [
                "DNSWire", "ZoneStore", "COpenSSL", "CUDPBatch",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "ChallengeAPI",
            dependencies: [
                "DNSWire", "ZoneStore", "ACMEClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(name: "COpenSSL"),
        .target(
            name: "ACMEClient",
            dependencies: [
                "COpenSSL",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        .target(
            name: "CDNSDaemon",
            dependencies: [
                "DNSWire", "ZoneStore", "ZoneStorePostgres", "DNSServer", "ChallengeAPI", "ACMEClient", "CSQLite",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]),
        .executableTarget(name: "cdnsd", dependencies: ["CDNSDaemon"]),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire"], resources: [.copy("Vectors")]),
        .target(
            name: "CDNSTestSupport",
            dependencies: [.product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Tests/CDNSTestSupport"),
        .testTarget(
            name: "ZoneStoreTests",
            dependencies: [
                "ZoneStore", "ZoneStorePostgres", "DNSWire", "CDNSTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "DNSServerTests",
            dependencies: [
                "DNSServer", "ZoneStore", "DNSWire", "CDNSTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Vectors"]),
        .executableTarget(
            name: "StoreCrashWriter",
            dependencies: ["DNSWire", "ZoneStore", "ZoneStorePostgres", .product(name: "Logging", package: "swift-log")],
            path: "Tests/StoreCrashWriter"),
        .testTarget(
            name: "ChallengeAPITests",
            dependencies: [
                "ChallengeAPI", "ZoneStore", "DNSWire", "CDNSTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "ACMEClientTests", dependencies: ["ACMEClient", "CDNSTestSupport"]),
        .testTarget(name: "CDNSDaemonTests", dependencies: ["CDNSDaemon", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["DNSWire", "DNSServer", "ZoneStore", "ZoneStorePostgres", "ACMEClient", "CDNSTestSupport", .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
    ],
    swiftLanguageModes: [.v6]
)
