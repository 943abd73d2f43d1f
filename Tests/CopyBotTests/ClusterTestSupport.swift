import Chain
import ClobStandIn
import CopyEngine
import DevNode
import EVM
import Foundation
import Polymarket

/// A copybot cluster's surroundings for process tests: a devnet producing the followed wallets'
/// trades, the CLOB stand-in knowing every account's key (matching FAK orders against deep
/// books), and the configuration (YAML and environment) of processes copying into those accounts
/// in live mode on one PostgreSQL schema. Each process logs to a file of its own.
struct ClusterHarness {
    /// One account of the cluster, with a key and API credentials made here.
    struct Account {
        var name: AccountID
        var keyHex: String
        var key: PrivateKey
        var credentials: ApiCredentials
        var wallets: [Address]
    }

    let registry: ExchangeRegistry
    let devnet: Devnet
    let standIn: ClobStandIn
    let accounts: [Account]
    let startBlock: UInt64
    let directory: URL
    let config: URL
    let environment: [String: String]

    /// Starts the devnet (not producing yet: ``Devnet/run()`` does) and the stand-in, and writes
    /// the configuration of `accounts` accounts, account `i` following `followed(i)`.
    static func make(
        devnet configuration: Devnet.Configuration, accounts count: Int, followed: (Int) -> [Address],
        storeURL: String, leaseSeconds: Int, failoverAfter: Int
    ) async throws -> ClusterHarness {
        let registry = try ServiceTestSupport.registry()
        let devnet = try Devnet(registry: registry, configuration: configuration)
        try await devnet.start()
        let startBlock = devnet.chain.blockNumber
        var accounts: [Account] = []
        var generator = SystemRandomNumberGenerator()
        for i in 0..<count {
            var bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            bytes[0] = 0x01
            let hex = Hex.encode(bytes)
            accounts.append(
                Account(
                    name: AccountID("a\(i)"), keyHex: hex, key: try PrivateKey(hex: hex),
                    credentials: ServiceTestSupport.randomCredentials(), wallets: followed(i)))
        }
        var standInConfiguration = ClobStandIn.Configuration(
            credentials: accounts[0].credentials, account: accounts[0].key.address,
            contracts: try ExchangeContracts(
                registry: registry, exchange: "CTFExchangeV2", negRiskExchange: "NegRiskCTFExchangeV2",
                domainVersion: "2"),
            markets: ServiceTestSupport.deepBooks(devnet))
        standInConfiguration.matchesTakerOrders = true
        standInConfiguration.otherAccounts = accounts.dropFirst().map { ($0.credentials, $0.key.address) }
        let standIn = ClobStandIn(configuration: standInConfiguration)
        try await standIn.start()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("copybot.yaml")
        var yaml = """
            contracts:
              file: \(ServiceTestSupport.root.appendingPathComponent("Config/contracts.polygon.yaml").path)
              abi_dir: \(ServiceTestSupport.root.appendingPathComponent("abi").path)
            copy:
              mode: live
              starting_usdc: 1000000
              order_lease_seconds: 2
              risk:
                max_total_exposure_usdc: 1000000
                max_position_usdc_per_market: 100000
                max_position_usdc_per_token: 50000
                daily_loss_limit_usdc: 1000000
                max_trade_age_seconds: 86400
                kill_switch_file: \(directory.appendingPathComponent("KILL").path)
            accounts:

            """
        for account in accounts {
            yaml += """
                  - name: \(account.name.name)
                    wallets: [\(account.wallets.map { "\"\($0.checksummed)\"" }.joined(separator: ", "))]

                """
        }
        try Data(yaml.utf8).write(to: config)
        var environment = [
            "COPYBOT_CHAIN_WS_URLS": devnet.webSocketURL, "COPYBOT_CHAIN_HTTP_URLS": devnet.httpURL,
            "COPYBOT_STORE_URL": storeURL, "COPYBOT_CHAIN_START_BLOCK": "\(startBlock)",
            "COPYBOT_CHAIN_STALE_AFTER": "1", "COPYBOT_HTTP_LISTEN": "", "COPYBOT_LOG_LEVEL": "notice",
            "COPYBOT_CLOB_URL": standIn.baseURL, "COPYBOT_CLOB_REQUESTS_PER_SECOND": "1000",
            "COPYBOT_CLUSTER_LEASE_SECONDS": "\(leaseSeconds)",
            "COPYBOT_CLUSTER_FAILOVER_AFTER": "\(failoverAfter)",
        ]
        for account in accounts {
            let prefix = "COPYBOT_ACCOUNT_\(account.name.name.uppercased())_"
            environment[prefix + "PRIVATE_KEY"] = account.keyHex
            environment[prefix + "CLOB_API_KEY"] = account.credentials.apiKey
            environment[prefix + "CLOB_API_SECRET"] = account.credentials.secret
            environment[prefix + "CLOB_API_PASSPHRASE"] = account.credentials.passphrase
        }
        return ClusterHarness(
            registry: registry, devnet: devnet, standIn: standIn, accounts: accounts, startBlock: startBlock,
            directory: directory, config: config, environment: environment)
    }

    /// The log file of the process `name`.
    func log(_ name: String) -> URL { directory.appendingPathComponent("\(name).log") }

    /// Starts `copybot run --role role` as cluster member `name`, logging to ``log(_:)``.
    func start(_ name: String, _ role: String, environment extra: [String: String] = [:]) throws -> Process {
        var env = environment.merging(extra) { _, new in new }
        env["COPYBOT_CLUSTER_NAME"] = name
        return try ServiceTestSupport.startCopybot(
            env, log: log(name), config: config.path, arguments: ["--role", role])
    }

    /// Runs a copybot command (`status`, `trades`…) on the cluster's configuration.
    func command(
        _ arguments: [String]
    ) async throws -> (status: Int32, output: String, standardOutput: String) {
        try await ServiceTestSupport.runCopybot(arguments, environment: environment, config: config.path)
    }

    /// The canonical fills of each account's wallets from the start block to `head`.
    func expected(to head: UInt64) throws -> [AccountID: Set<LogIdentity>] {
        var expected: [AccountID: Set<LogIdentity>] = [:]
        for account in accounts {
            expected[account.name] = try ServiceTestSupport.canonicalFills(
                devnet, registry: registry, wallets: account.wallets, from: startBlock, to: head)
        }
        return expected
    }

    /// Stops the devnet and the stand-in and removes the directory.
    func stop() async {
        await devnet.shutdown()
        await standIn.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
