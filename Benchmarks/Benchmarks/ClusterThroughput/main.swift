// Cluster throughput: decisions per second with 1, 2 and 4 `copybot run --role executor`
// processes on one machine, sharing one PostgreSQL.
//
// For each executor count: a fresh schema; the queue is filled with `--items` trades of followed
// wallets spread over `--accounts` accounts and 50 tokens (paper mode: each copy reads the token's
// book from a CLOB stand-in on loopback, 10 levels a side, and fills against it); then the
// executors are started and the run ends when the queue is empty. The rate is decisions divided
// by the time between the first and the last decision (start-up excluded).
//
//   swift build -c release                                   # at the repository root
//   eval "$(bash scripts/postgres-test-server.sh start)"     # or any PostgreSQL you own
//   cd Benchmarks && swift run -c release --scratch-path .build-bench cluster-throughput \
//       --postgres "$COPYBOT_TEST_POSTGRES_URL" [--items 20000] [--accounts 10] [--executors 1,2,4] \
//       [--concurrency 4]   # copy.executors of each process
import ClobStandIn
import CopyEngine
import EVM
import Foundation
import Logging
import Polymarket
import PostgresNIO
import Store

struct Options {
    var postgres = ProcessInfo.processInfo.environment["COPYBOT_TEST_POSTGRES_URL"] ?? ""
    var items = 20_000
    var accounts = 10
    var executors = [1, 2, 4]
    /// `copy.executors` of each process: decisions it works on at once.
    var concurrency = 4
    var copybot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            ".build/release/copybot"
        ).path

    init(_ arguments: [String]) {
        var i = 1
        while i < arguments.count {
            let value = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch arguments[i] {
            case "--postgres": postgres = value
            case "--items": items = Int(value) ?? items
            case "--accounts": accounts = Int(value) ?? accounts
            case "--executors": executors = value.split(separator: ",").compactMap { Int($0) }
            case "--copybot": copybot = value
            case "--concurrency": concurrency = Int(value) ?? concurrency
            default:
                FileHandle.standardError.write(Data("unknown argument \(arguments[i])\n".utf8))
                exit(2)
            }
            i += 2
        }
    }
}

let options = Options(CommandLine.arguments)
guard !options.postgres.isEmpty else {
    FileHandle.standardError.write(Data("--postgres URL (or COPYBOT_TEST_POSTGRES_URL) is needed\n".utf8))
    exit(2)
}
guard FileManager.default.isExecutableFile(atPath: options.copybot) else {
    FileHandle.standardError.write(
        Data("no copybot at \(options.copybot): run `swift build -c release` at the root first\n".utf8))
    exit(2)
}
var logger = Logger(label: "cluster-throughput")
logger.logLevel = .warning
let root = URL(fileURLWithPath: options.copybot).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The items: account i's wallet trades token t, BUY then SELL in turns.
func items(accounts: [AccountID], wallets: [Address], count: Int) -> [CopyWorkItem] {
    let shares = FixedPoint6(units: UInt64(20_000_000))
    let collateral = FixedPoint6(units: UInt64(10_000_000))
    let now = SystemWallClock().now()
    return (0..<count).map { n in
        let a = n % accounts.count
        let u = UInt64(n)
        let trade = TradeEvent(
            exchange: "CTFExchangeV2", contract: .zero, blockNumber: 70_000_000 + u / 10,
            blockHash: Bytes32(3, 0, 0, u / 10), transactionHash: Bytes32(1, 0, 0, u), logIndex: 0,
            orderHash: Bytes32(2, 0, 0, u), wallet: wallets[a], counterparty: .zero,
            side: (n / accounts.count) % 4 == 3 ? .sell : .buy,
            tokenId: tokens[(n / accounts.count) % tokens.count],
            shares: shares, collateral: collateral,
            price: Price.of(collateral: collateral.units, shares: shares.units)!,
            fee: FixedPoint6(units: UInt64(0)), removed: false)
        return CopyWorkItem(
            account: accounts[a],
            trade: CopyTrade(
                identity: TradeIdentity(Bytes32(7, 7, UInt64(a), u)), trade: trade, blockTime: now))
    }
}

func run(executors: Int, clob: String) async throws -> (decisions: Int, seconds: Double) {
    var configuration = try PostgresStoreConfiguration(url: options.postgres)
    let schema = "bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    configuration.schema = schema
    let store = try await PostgresStore(configuration: configuration, logger: logger)
    defer { Task { [store] in await store.shutdown() } }
    let accounts = (0..<options.accounts).map { AccountID("b\($0)") }
    let wallets = (0..<options.accounts).map { Address(hi: 0xBE, mid: 0, lo: UInt32($0)) }
    let all = items(accounts: accounts, wallets: wallets, count: options.items)
    for start in stride(from: 0, to: all.count, by: 1_000) {
        try await store.enqueue(
            Array(all[start..<min(start + 1_000, all.count)]), at: SystemWallClock().now())
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-bench-\(schema)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    var yaml = """
        contracts:
          file: \(root.appendingPathComponent("Config/contracts.polygon.yaml").path)
          abi_dir: \(root.appendingPathComponent("abi").path)
        copy:
          starting_usdc: 100000000
          risk:
            max_total_exposure_usdc: 100000000
            max_position_usdc_per_market: 100000000
            max_position_usdc_per_token: 100000000
            daily_loss_limit_usdc: 100000000
            max_trade_age_seconds: 86400
        accounts:

        """
    for (account, wallet) in zip(accounts, wallets) {
        yaml += "  - name: \(account.name)\n    wallets: [\"\(wallet.checksummed)\"]\n"
    }
    let config = directory.appendingPathComponent("copybot.yaml")
    try Data(yaml.utf8).write(to: config)
    let url =
        options.postgres + (options.postgres.contains("?") ? "&" : "?")
        + "options=-c%20search_path%3D\(schema)"
    var processes: [Process] = []
    for e in 0..<executors {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: options.copybot)
        process.arguments = ["run", "--config", config.path, "--role", "executor"]
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("COPYBOT_") }
            .merging([
                "COPYBOT_STORE_URL": url, "COPYBOT_CLOB_URL": clob, "COPYBOT_HTTP_LISTEN": "",
                "COPYBOT_LOG_LEVEL": "warning", "COPYBOT_CLUSTER_NAME": "E\(e)",
                "COPYBOT_CLUSTER_LEASE_SECONDS": "3", "COPYBOT_CLOB_REQUESTS_PER_SECOND": "1000",
                "COPYBOT_COPY_EXECUTORS": "\(options.concurrency)",
                "COPYBOT_COPY_RISK_KILL_SWITCH_FILE": directory.appendingPathComponent("KILL").path,
            ]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.standardError
        try process.run()
        processes.append(process)
    }
    while try await store.depths().reduce(0, { $0 + $1.count }) > 0 {
        try await Task.sleep(for: .milliseconds(50))
    }
    for process in processes {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
    var times: [Int64] = []
    for account in accounts {
        times += try await store.decisionEntries(account: account, limit: nil, afterRowID: nil).map {
            $0.record.decidedAt.milliseconds
        }
    }
    try await dropSchema(schema, configuration)
    return (times.count, Double((times.max() ?? 0) - (times.min() ?? 0)) / 1000)
}

/// Drops the benchmark's schema.
func dropSchema(_ schema: String, _ store: PostgresStoreConfiguration) async throws {
    let connection = try await PostgresConnection.connect(
        configuration: .init(
            host: store.host, port: store.port, username: store.username, password: store.password,
            database: store.database, tls: .disable),
        id: 9, logger: logger)
    try await connection.query(
        PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE"), logger: logger)
    try await connection.close()
}

// The books the paper fills read: 10 levels a side around 0.50 for every token.
let tokens = (1...50).map { UInt256(0xB0, 0, 0, UInt64($0)) }
func level(_ cents: Int) -> BookLevel {
    BookLevel(price: ExactDecimal("0.\(String(format: "%02d", cents))")!, size: ExactDecimal(1_000_000))
}
let standIn = ClobStandIn(
    configuration: .init(
        credentials: ApiCredentials(apiKey: "bench", secret: "YmVuY2g=", passphrase: "bench"), account: nil,
        contracts: ExchangeContracts(
            domainVersion: "2", chainId: 137, exchange: .zero, negRiskExchange: Address(hi: 0, mid: 0, lo: 1)),
        markets: tokens.map { token in
            ClobStandIn.Market(
                tokenID: token, bids: (40...49).map(level), asks: (51...60).reversed().map(level))
        }))
_ = try await standIn.start()

print(
    "cluster throughput: \(options.items) queued trades, \(options.accounts) accounts, paper mode, copy.executors \(options.concurrency) per process"
)
print("executors  decisions  seconds  decisions/s  vs 1")
var base: Double? = nil
for count in options.executors {
    let (decisions, seconds) = try await run(executors: count, clob: standIn.baseURL)
    let rate = seconds > 0 ? Double(decisions) / seconds : 0
    base = base ?? rate
    print(
        String(
            format: "%9d  %9d  %7.2f  %11.0f  %.2fx", count, decisions, seconds, rate, rate / (base ?? rate)))
}
await standIn.stop()
