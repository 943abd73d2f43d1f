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
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Pure Ethereum core: Keccak-256, hex, addresses, 256-bit words, the ABI model and codec.
        .target(name: "EVM"),
        // libwebsockets (system library): module map over shim.h.
        .systemLibrary(
            name: "CLibWebSockets",
            path: "Sources/CLibWebSockets",
            pkgConfig: "libwebsockets",
            providers: [.apt(["libwebsockets-dev"])]
        ),
        // Chain: WebSocket transport (libwebsockets), later JSON-RPC and the log event source.
        .target(
            name: "Chain",
            dependencies: [
                "EVM",
                "CLibWebSockets",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // DevNode: loopback WebSocket server (libwebsockets) for tests; grows into `copybot devnet`.
        .target(
            name: "DevNode",
            dependencies: ["CLibWebSockets"]
        ),
        // Polymarket: exchange registry from Config/ + abi/, OrderFilled → TradeEvent.
        .target(
            name: "Polymarket",
            dependencies: [
                "EVM",
                .product(name: "Yams", package: "Yams"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
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
        .testTarget(
            name: "ChainTests",
            dependencies: ["Chain", "DevNode", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "CopyBotTests", dependencies: ["CopyBot", "Polymarket", "EVM"]),
    ],
    swiftLanguageModes: [.v6]
)
