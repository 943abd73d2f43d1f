// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "copybot",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "copybot", targets: ["copybot"]),
        .library(name: "EVM", targets: ["EVM"]),
        .library(name: "Chain", targets: ["Chain"]),
        .library(name: "Polymarket", targets: ["Polymarket"]),
        .library(name: "Store", targets: ["Store"]),
        .library(name: "CopyEngine", targets: ["CopyEngine"]),
        .library(name: "DevNode", targets: ["DevNode"]),
        .library(name: "CopyBot", targets: ["CopyBot"]),
        .library(name: "ClobStandIn", targets: ["ClobStandIn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
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
        // libwebsockets 4.1 (Debian libwebsockets-dev, TLS through OpenSSL): module map over shim.h.
        .systemLibrary(
            name: "CLibWebSockets",
            path: "Sources/CLibWebSockets",
            pkgConfig: "libwebsockets",
            providers: [.apt(["libwebsockets-dev"])]
        ),
        // Pure Ethereum core: Keccak-256, hex, addresses, 256-bit words, the ABI model and codec,
        // JSON-RPC log parsing, EIP-712 hashing, secp256k1 signing. No I/O.
        .target(name: "EVM", dependencies: ["CSecp256k1"]),
        // The chain listener: WebSocket transport (libwebsockets), JSON-RPC, the EventSource
        // (resync, reorgs, checkpoint). Knows nothing of trading.
        .target(
            name: "Chain",
            dependencies: [
                "EVM",
                "CLibWebSockets",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // Polymarket: exchange registry from Config/ + abi/, OrderFilled → TradeEvent, the CLOB
        // client (orders, auth, books, metadata cache).
        .target(
            name: "Polymarket",
            dependencies: [
                "EVM",
                .product(name: "Yams", package: "Yams"),
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // A local stand-in for Polymarket's CLOB (tests and `copybot devnet`): verifies L2 HMAC and
        // order signatures, serves books, records orders, injects faults.
        .target(
            name: "ClobStandIn",
            dependencies: [
                "Polymarket",
                "EVM",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The durable store: SQLite through GRDB and PostgreSQL through postgres-nio, implementing
        // the store protocols of the layers above.
        .target(
            name: "Store",
            dependencies: [
                "Chain",
                "CopyEngine",
                "EVM",
                "Polymarket",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The copy engine's decision core: sizing, risk, circuit breaker, paper fills, the portfolio
        // ledger and the executor/pipeline. Talks to the exchange and the store only through the
        // protocols it declares; knows nothing of Chain or Store.
        .target(
            name: "CopyEngine",
            dependencies: ["Polymarket", "EVM", .product(name: "Logging", package: "swift-log")]
        ),
        // The local simulated Polygon node behind `copybot devnet` and the tests.
        .target(
            name: "DevNode",
            dependencies: [
                "CLibWebSockets",
                "Chain",
                "EVM",
                "Polymarket",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The application: configuration, composition root, command implementations.
        .target(
            name: "CopyBot",
            dependencies: [
                "EVM", "Polymarket", "Chain", "Store", "CopyEngine",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                // Operations: /health, /ready, /metrics.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The CLI, nothing else.
        .executableTarget(
            name: "copybot",
            dependencies: [
                "CopyBot",
                "Chain",
                "CopyEngine",
                "DevNode",
                "EVM",
                "Polymarket",
                "Store",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "EVMTests", dependencies: ["EVM"]),
        .testTarget(
            name: "PolymarketTests",
            dependencies: [
                "Polymarket", "EVM", "ClobStandIn",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ChainTests",
            dependencies: [
                "Chain", "DevNode", "EVM", "Polymarket", "Store",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(name: "DevNodeTests", dependencies: ["DevNode", "EVM", "Polymarket"]),
        .testTarget(
            name: "CopyBotTests",
            dependencies: [
                "CopyBot", "Polymarket", "EVM", "ClobStandIn", "Chain", "DevNode", "Store", "CopyEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(name: "CopyEngineTests", dependencies: ["CopyEngine", "Polymarket", "EVM"]),
        .testTarget(
            name: "StoreTests",
            dependencies: [
                "Store", "CopyEngine", "Chain", "Polymarket", "EVM",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
