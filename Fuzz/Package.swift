// swift-tools-version: 6.1
// The fuzz targets, kept out of the main package: they build only with `-sanitize=fuzzer`.
// Run (see README "Fuzzing"):
//   swift build -c release --package-path Fuzz --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//   .build-fuzz/release/DecoderFuzz Fuzz/corpus -max_total_time=600
import PackageDescription

let package = Package(
    name: "copybot-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "copybot", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "DecoderFuzz",
            dependencies: [
                "CFuzzDriver",
                .product(name: "EVM", package: "copybot"),
                .product(name: "Polymarket", package: "copybot"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
