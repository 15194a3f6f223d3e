// swift-tools-version: 6.1
// Benchmarks, a package of their own so that CI's build of the main package
// never compiles package-benchmark. Run with `Scripts/bench-codec.sh`.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where
// the repository was cloned.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "cdnsd-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "DNSWireCodec",
            dependencies: [
                .product(name: "DNSWire", package: root),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/DNSWireCodec",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .executableTarget(
            name: "QueryResponder",
            dependencies: [
                .product(name: "DNSServer", package: root),
                .product(name: "ZoneStore", package: root),
                .product(name: "DNSWire", package: root),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/QueryResponder",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .executableTarget(
            name: "ZoneStoreBenchmarks",
            dependencies: [
                .product(name: "ZoneStore", package: root),
                .product(name: "ZoneStorePostgres", package: root),
                .product(name: "DNSWire", package: root),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ZoneStore",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ],
    swiftLanguageModes: [.v6]
)
