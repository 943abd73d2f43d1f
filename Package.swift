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
    ],
    targets: [
        // Pure Ethereum core: Keccak-256, hex, addresses, 256-bit words, the ABI model and codec.
        .target(name: "EVM"),
        // Polymarket: exchange registry from Config/ + abi/, OrderFilled → TradeEvent.
        .target(
            name: "Polymarket",
            dependencies: [
                "EVM",
                .product(name: "Yams", package: "Yams"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
        // DevNode: the simulated Polygon node behind `copybot devnet` (chain, JSON-RPC, faults).
        .target(name: "DevNode", dependencies: ["EVM", "Polymarket"]),
        // The application: configuration, composition root, command implementations.
        .target(
            name: "CopyBot",
            dependencies: ["EVM", "Polymarket"]
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
        .testTarget(name: "DevNodeTests", dependencies: ["DevNode", "EVM", "Polymarket"]),
        .testTarget(name: "CopyBotTests", dependencies: ["CopyBot", "Polymarket", "EVM"]),
    ],
    swiftLanguageModes: [.v6]
)
