// swift-tools-version: 6.1
// A separate package so that building or testing copybot never pulls the benchmark dependencies.
// Run from this directory: swift package --scratch-path .build-bench benchmark
// (or one suite: ... benchmark --target EVMBenchmarks)
import PackageDescription

let package = Package(
    name: "copybot-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "copybot", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .executableTarget(
            name: "EVMBenchmarks",
            dependencies: [
                .product(name: "EVM", package: "copybot"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/EVMBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "PipelineBenchmarks",
            dependencies: [
                .product(name: "EVM", package: "copybot"),
                .product(name: "Polymarket", package: "copybot"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/PipelineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ClobBenchmarks",
            dependencies: [
                .product(name: "EVM", package: "copybot"),
                .product(name: "Polymarket", package: "copybot"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ClobBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: [
                .product(name: "EVM", package: "copybot"),
                .product(name: "Polymarket", package: "copybot"),
                .product(name: "CopyEngine", package: "copybot"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/EngineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Not a package-benchmark suite: one end-to-end run on loopback, percentiles printed.
        // swift run -c release --scratch-path .build-bench loopback-latency
        .executableTarget(
            name: "loopback-latency",
            dependencies: [
                .product(name: "CopyBot", package: "copybot"),
                .product(name: "CopyEngine", package: "copybot"),
                .product(name: "DevNode", package: "copybot"),
                .product(name: "ClobStandIn", package: "copybot"),
                .product(name: "Store", package: "copybot"),
                .product(name: "EVM", package: "copybot"),
                .product(name: "Polymarket", package: "copybot"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/LoopbackLatency"
        ),
        // Not a package-benchmark suite: decisions per second with 1, 2 and 4 executor processes
        // on one PostgreSQL. swift run -c release --scratch-path .build-bench cluster-throughput
        .executableTarget(
            name: "cluster-throughput",
            dependencies: [
                .product(name: "ClobStandIn", package: "copybot"),
                .product(name: "CopyEngine", package: "copybot"),
                .product(name: "Store", package: "copybot"),
                .product(name: "EVM", package: "copybot"),
                .product(name: "Polymarket", package: "copybot"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Benchmarks/ClusterThroughput"
        ),
    ],
    swiftLanguageModes: [.v6]
)
