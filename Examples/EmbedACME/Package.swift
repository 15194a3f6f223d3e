// swift-tools-version: 6.1
// ACMEClient embedded in another program: an account, an order for a
// wildcard and its apex, dns-01 solved through a solver of the program's
// own (here: lego's httpreq protocol, which cdnsd serves), the chain
// written to a file. Scripts/test.sh builds it and runs it against pebble.
import PackageDescription

let package = Package(
    name: "EmbedACME",
    dependencies: [.package(name: "cdnsd", path: "../..")],
    targets: [
        .executableTarget(name: "EmbedACME", dependencies: [.product(name: "ACMEClient", package: "cdnsd")]),
    ],
    swiftLanguageModes: [.v6]
)
