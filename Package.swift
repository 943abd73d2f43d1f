// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "copybot",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "copybot", targets: ["copybot"]),
        .library(name: "EVM", targets: ["EVM"]),
        .library(name: "Polymarket", targets: ["Polymarket"]),
        .library(name: "CopyBot", targets: ["CopyBot"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(
            url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
    ],
    targets: [
        // libsecp256k1 (Debian libsecp256k1-dev 0.2.0, with the recovery module).
        .systemLibrary(
            name: "CSecp256k1",
            path: "Sources/CSecp256k1",
            pkgConfig: "libsecp256k1",
            providers: [.apt(["libsecp256k1-dev"])]
        ),
        // Pure Ethereum core: Keccak-256, hex, addresses, 256-bit words, the ABI model and codec,
        // EIP-712 hashing, secp256k1 signing.
        .target(name: "EVM", dependencies: ["CSecp256k1"]),
        // Polymarket: exchange registry from Config/ + abi/, OrderFilled → TradeEvent.
        .target(
            name: "Polymarket",
            dependencies: [
                "EVM",
                .product(name: "Yams", package: "Yams"),
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The chain listener: transport, JSON-RPC, the EventSource (resync, reorgs, checkpoint).
        .target(
            name: "Chain",
            dependencies: ["EVM", .product(name: "Logging", package: "swift-log")]
        ),
        // The durable store: SQLite through GRDB, implementing the store protocols of the layers above.
        .target(
            name: "Store",
            dependencies: [
                "Chain",
                "EVM",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The application: configuration, composition root, command implementations.
        .target(
            name: "CopyBot",
            dependencies: [
                "EVM", "Polymarket", "Chain", "Store",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The CLI, nothing else.
        .executableTarget(
            name: "copybot",
            dependencies: [
                "CopyBot",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "EVMTests", dependencies: ["EVM"]),
        .testTarget(name: "PolymarketTests", dependencies: ["Polymarket", "EVM"]),
        .testTarget(name: "ChainTests", dependencies: ["Chain", "EVM", "Store"]),
        .testTarget(
            name: "CopyBotTests",
            dependencies: ["CopyBot", "Polymarket", "EVM", .product(name: "Yams", package: "Yams")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
