import AsyncHTTPClient
import ClobStandIn
import CopyEngine
import DevNode
import EVM
import Foundation
import NIOCore
import Polymarket
import Store
import Testing

/// `copybot run` in live mode against a stand-in that holds the account's balances: a copy the
/// account cannot fund is skipped before any order is posted, and a difference between the ledger
/// and the exchange shows in `copybot status` and `/metrics`.
@Suite("copybot run, live, balances and reconciliation", .serialized, .timeLimit(.minutes(5)))
struct LiveFundsTests {
    static let followed = Address(hi: 0x22FE_0000_0000_0000, mid: 7, lo: 7)

    struct Rig {
        var devnet: Devnet
        var standIn: ClobStandIn
        var key: PrivateKey
        var environment: [String: String]
        var directory: URL
        var database: String
        var startBlock: UInt64
    }

    /// A devnet whose followed wallet trades, a stand-in that matches and checks funds, and the
    /// environment of a live `copybot run` with `/metrics` on `port`.
    static func rig(blocks: Int, port: Int) async throws -> Rig {
        let registry = try ServiceTestSupport.registry()
        var configuration = ServiceTestSupport.devnet(
            blocks: blocks, every: .milliseconds(40), seed: 77, following: [followed], share: 0.3)
        configuration.chain.markets = 6
        configuration.chain.genesisTimestamp = UInt64(Date().timeIntervalSince1970)
        let devnet = try Devnet(registry: registry, configuration: configuration)
        try await devnet.start()
        var keyBytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
        keyBytes[0] = 0x01
        let keyHex = Hex.encode(keyBytes)
        let key = try PrivateKey(hex: keyHex)
        let credentials = ServiceTestSupport.randomCredentials()
        var standInConfiguration = ClobStandIn.Configuration(
            credentials: credentials, account: key.address,
            contracts: try ExchangeContracts(
                registry: registry, exchange: "CTFExchangeV2", negRiskExchange: "NegRiskCTFExchangeV2",
                domainVersion: "2"),
            markets: ServiceTestSupport.deepBooks(devnet))
        standInConfiguration.matchesTakerOrders = true
        let standIn = ClobStandIn(configuration: standInConfiguration)
        try await standIn.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-live-funds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = directory.appendingPathComponent("copybot.sqlite").path
        let startBlock = devnet.chain.blockNumber
        let environment = [
            "COPYBOT_CHAIN_WS_URLS": devnet.webSocketURL, "COPYBOT_CHAIN_HTTP_URLS": devnet.httpURL,
            "COPYBOT_STORE_URL": "sqlite:\(database)", "COPYBOT_FOLLOW_WALLETS": followed.checksummed,
            "COPYBOT_CHAIN_START_BLOCK": "\(startBlock)", "COPYBOT_CHAIN_STALE_AFTER": "1",
            "COPYBOT_HTTP_LISTEN": "127.0.0.1:\(port)", "COPYBOT_LOG_LEVEL": "info",
            "COPYBOT_COPY_MODE": "live", "COPYBOT_PRIVATE_KEY": keyHex,
            "COPYBOT_CLOB_API_KEY": credentials.apiKey, "COPYBOT_CLOB_API_SECRET": credentials.secret,
            "COPYBOT_CLOB_API_PASSPHRASE": credentials.passphrase, "COPYBOT_CLOB_URL": standIn.baseURL,
            "COPYBOT_CLOB_REQUESTS_PER_SECOND": "1000", "COPYBOT_CLOB_BALANCE_REFRESH_SECONDS": "0.5",
            "COPYBOT_COPY_STARTING_USDC": "1000", "COPYBOT_COPY_SIZING_MODE": "fixed_usdc",
            "COPYBOT_COPY_SIZING_VALUE": "5",
            "COPYBOT_COPY_RISK_MAX_TRADE_AGE_SECONDS": "86400",
            "COPYBOT_COPY_RISK_KILL_SWITCH_FILE": directory.appendingPathComponent("KILL").path,
        ]
        return Rig(
            devnet: devnet, standIn: standIn, key: key, environment: environment, directory: directory,
            database: database, startBlock: startBlock)
    }

    /// The decisions stored so far.
    static func decisions(_ database: String) async throws -> [DecisionRecord] {
        guard FileManager.default.fileExists(atPath: database) else { return [] }
        let store = try SQLiteStore(path: database)
        return try await store.decisionEntries(account: .default, limit: nil, afterRowID: nil).map(\.record)
    }

    @Test("a BUY the exchange balance cannot fund is skipped with insufficient_balance, no order posted")
    func insufficientBalance() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let rig = try await Self.rig(blocks: 150, port: Int.random(in: 20_000...40_000))
        defer { try? FileManager.default.removeItem(at: rig.directory) }
        // Below one order's cost ($5): every BUY copy is unfundable.
        rig.standIn.setCollateral(
            rig.key.address, balance: UInt256(2_500_000), allowance: UInt256(1_000_000_000))
        let log = rig.directory.appendingPathComponent("copybot.log")
        let producer = Task { try await rig.devnet.run() }
        let process = try ServiceTestSupport.startCopybot(rig.environment, log: log)
        try await producer.value
        var buys: [DecisionRecord] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            buys = try await Self.decisions(rig.database).filter { $0.trade.side == .buy }
            if buys.count >= 5 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(await ServiceTestSupport.terminate(process), "stops cleanly")
        await rig.devnet.shutdown()
        await rig.standIn.stop()
        #expect(buys.count >= 5, "enough BUYs decided (\(buys.count)): \(ServiceTestSupport.tail(of: log))")
        for buy in buys {
            guard case .skipped(let reason) = buy.decision, reason.rule == .insufficientBalance else {
                Issue.record("not skipped for the balance: \(buy.decision.explanation)")
                continue
            }
            #expect(buy.decision.explanation.contains("2.5"), "\(buy.decision.explanation)")
        }
        #expect(rig.standIn.acceptedOrders.isEmpty, "orders were posted: \(rig.standIn.acceptedOrders.count)")
        #expect(
            !rig.standIn.rejections.contains { $0.contains("not enough balance") },
            "refused there, not skipped here")
    }

    @Test("a difference injected at the exchange shows in copybot status and /metrics")
    func reconciliationDifference() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let port = Int.random(in: 20_000...40_000)
        let rig = try await Self.rig(blocks: 1, port: port)
        defer { try? FileManager.default.removeItem(at: rig.directory) }
        // The exchange holds what the ledger starts with.
        rig.standIn.setCollateral(
            rig.key.address, balance: UInt256(1_000_000_000), allowance: UInt256(1_000_000_000))
        let log = rig.directory.appendingPathComponent("copybot.log")
        let process = try ServiceTestSupport.startCopybot(rig.environment, log: log)
        defer { _ = ServiceTestSupport.terminateNow(process) }
        let http = HTTPClient.shared
        func metrics() async -> String {
            guard
                let response = try? await http.execute(
                    HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(2)),
                let body = try? await response.body.collect(upTo: 1 << 20)
            else { return "" }
            return String(buffer: body)
        }
        let agreed = #"copybot_reconciliation_differences{account="default"} 0"#
        var deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, !(await metrics()).contains(agreed) {
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(
            await metrics().contains(agreed), "the ledger agreed first: \(ServiceTestSupport.tail(of: log))")
        // Someone moved 12.5 pUSD out of the account behind copybot's back.
        rig.standIn.setCollateral(
            rig.key.address, balance: UInt256(987_500_000), allowance: UInt256(1_000_000_000))
        let differs = #"copybot_reconciliation_differences{account="default"} 1"#
        deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, !(await metrics()).contains(differs) {
            try await Task.sleep(for: .milliseconds(250))
        }
        let text = await metrics()
        #expect(
            text.contains(differs), "\(text.split(separator: "\n").filter { $0.contains("reconciliation") })")
        #expect(text.contains(#"copybot_reconciliation_collateral_difference{account="default"} -12.5"#))
        let status = try await ServiceTestSupport.runCopybot(
            ["status"],
            environment: rig.environment.filter {
                ![
                    "COPYBOT_PRIVATE_KEY", "COPYBOT_CLOB_API_KEY", "COPYBOT_CLOB_API_SECRET",
                    "COPYBOT_CLOB_API_PASSPHRASE",
                ].contains($0.key)
            })
        #expect(status.status == 0, "status runs without the secrets: \(status.output)")
        #expect(status.output.contains("collateral: ledger 1000, exchange 987.5 (-12.5)"), "\(status.output)")
        #expect(status.output.contains("not corrected"), "\(status.output)")
        #expect(
            try String(contentsOf: log, encoding: .utf8).contains("the ledger differs from the exchange"),
            "a log line says so")
        await rig.devnet.shutdown()
        await rig.standIn.stop()
    }
}
