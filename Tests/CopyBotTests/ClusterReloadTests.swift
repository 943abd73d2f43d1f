import Chain
import CopyBot
import CopyEngine
import DevNode
import EVM
import Foundation
import Logging
import Polymarket
import Synchronization
import Testing

@testable import Store

/// The application on PostgreSQL (listener and executor in one process, through the queue): a
/// reload that adds an account and changes another's sizing reaches the executor without a
/// restart — the new account's wallet is picked up, the changed account copies with its new
/// sizing, and nothing of it is lost at the seam.
///
/// The time limit is the other heavy suites' (10 minutes): it counts the wait for ``ExclusiveRun``,
/// behind the listener's and the cluster's heavy runs (their suites took 114 s and 269 s on a
/// 2-vCPU VM, where 5 minutes ran out while this test was still deciding).
@Suite(
    "cluster: a reload reaches the executor", .serialized, .timeLimit(.minutes(10)),
    .enabled(if: TestPostgres.enabled, "COPYBOT_TEST_POSTGRES_URL is not set"))
struct ClusterReloadTests {
    static let first = Address(hi: 0xF1F1_0000_0000_0000, mid: 11, lo: 1)
    static let second = Address(hi: 0x5EC0_0000_0000_0000, mid: 12, lo: 2)

    @Test(
        "adding an account and resizing another with a reload: every fill decided once, the new sizing used")
    func reloadAccounts() async throws {
        try await TestPostgres.withFreshSchema(prefix: "t_reload_") { store, storeURL, _ in
            // Not alongside the seven-process cluster test: under that load the executor may not
            // decide the second account's trades before the deadline (see ExclusiveRun).
            try await ExclusiveRun.run("heavy-tests") { try await run(store: store, storeURL: storeURL) }
        }
    }

    func run(store: PostgresStore, storeURL: String) async throws {
        let registry = try ServiceTestSupport.registry()
        var devnetConfiguration = ServiceTestSupport.devnet(
            blocks: 500, every: .milliseconds(40), seed: 93, following: [Self.first, Self.second], share: 0.4)
        devnetConfiguration.chain.genesisTimestamp = UInt64(Date().timeIntervalSince1970)
        let devnet = try Devnet(registry: registry, configuration: devnetConfiguration)
        try await devnet.start()
        let startBlock = devnet.chain.blockNumber
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-cluster-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        func account(_ name: String, _ wallet: Address, usdc: Decimal) -> CopyBotConfiguration.Account {
            var account = CopyBotConfiguration()
            account.follow.wallets = [.init(address: wallet)]
            account.copy.sizing = .init(mode: .fixedUSDC, value: usdc)
            account.copy.startingUSDC = 1_000_000
            account.copy.risk.maxTotalExposureUSDC = 1_000_000
            account.copy.risk.maxPositionUSDCPerToken = 100_000
            account.copy.risk.maxPositionUSDCPerMarket = 100_000
            account.copy.risk.dailyLossLimitUSDC = 1_000_000
            account.copy.risk.maxPriceDeviation = 0.5
            account.copy.risk.killSwitchFile = directory.appendingPathComponent("KILL").path
            return CopyBotConfiguration.Account(name: AccountID(name), configuration: account)
        }
        var configuration = CopyBotConfiguration()
        configuration.chain.wsURLs = [devnet.webSocketURL]
        configuration.chain.httpURLs = [devnet.httpURL]
        configuration.chain.startBlock = .block(startBlock)
        configuration.chain.staleAfter = .seconds(1)
        configuration.contracts.file =
            ServiceTestSupport.root.appendingPathComponent("Config/contracts.polygon.yaml").path
        configuration.contracts.abiDirectory = ServiceTestSupport.root.appendingPathComponent("abi").path
        configuration.store.url = storeURL
        configuration.clob.url = "http://127.0.0.1:9"
        configuration.http.listen = nil
        configuration.cluster.lease = .seconds(3)
        configuration.accounts = [account("a0", Self.first, usdc: 3)]
        for i in configuration.accounts.indices {
            configuration.accounts[i].configuration.store.url = storeURL
            configuration.accounts[i].configuration.clob.url = configuration.clob.url
        }
        let next = Mutex(configuration)
        var logger = Logger(label: "cluster-reload-test")
        logger.logLevel = .warning
        let application = CopyBotApplication(
            configuration: configuration, logger: logger, reload: { next.withLock { $0 } })
        let app = Task { try await application.run() }
        let producer = Task { try await devnet.run() }

        // Reload once a0 has bought with its first sizing (however slowly the machine runs).
        func boughtYet() async throws -> Bool {
            try await store.decisionEntries(account: "a0", limit: nil, afterRowID: nil).contains { entry in
                if case .copied(let order) = entry.record.decision {
                    order.intent.side == .buy
                } else {
                    false
                }
            }
        }
        while true {
            if devnet.chain.blockNumber >= startBlock + 70, try await boughtYet() { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        next.withLock { configuration in
            configuration.accounts = [
                account("a0", Self.first, usdc: 9), account("a1", Self.second, usdc: 4),
            ]
            for i in configuration.accounts.indices {
                configuration.accounts[i].configuration.clob.url = configuration.clob.url
            }
        }
        let reloadedAt = devnet.chain.blockNumber
        application.reload()
        try await producer.value
        let head = try #require(devnet.chain.block(tag: .latest))

        let expectedFirst = try ServiceTestSupport.canonicalFills(
            devnet, registry: registry, wallets: [Self.first], from: startBlock, to: head.number)
        let expectedSecond = try ServiceTestSupport.canonicalFills(
            devnet, registry: registry, wallets: [Self.second], from: reloadedAt + 1, to: head.number)
        #expect(expectedFirst.count > 10 && expectedSecond.count > 5, "enough fills to mean something")
        var first = Set<LogIdentity>()
        var second = Set<LogIdentity>()
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            first = try await ServiceTestSupport.decided(store, account: "a0")
            second = try await ServiceTestSupport.decided(store, account: "a1")
            if expectedFirst.isSubset(of: first), expectedSecond.isSubset(of: second) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        app.cancel()
        _ = try? await app.value
        await devnet.shutdown()
        #expect(
            expectedFirst.subtracting(first).isEmpty, "a0: \(expectedFirst.subtracting(first).count) lost")
        #expect(
            expectedSecond.subtracting(second).isEmpty,
            "a1: \(expectedSecond.subtracting(second).count) not picked up")
        for name: AccountID in ["a0", "a1"] {
            let entries = try await store.decisionEntries(account: name, limit: nil, afterRowID: nil)
            #expect(entries.count == Set(entries.map(\.record.key)).count, "\(name): one decision per trade")
        }
        // a0's buys: 3 USDC before the reload, 9 after (never anything else).
        let buys = try await store.decisionEntries(account: "a0", limit: nil, afterRowID: nil).compactMap {
            entry -> Fixed6? in
            guard case .copied(let order) = entry.record.decision, order.intent.side == .buy else {
                return nil
            }
            return order.intent.collateral
        }
        #expect(buys.allSatisfy { $0 <= Fixed6(9) }, "a0 never above its sizing")
        #expect(buys.contains { $0 <= Fixed6(3) }, "a0 bought with the first sizing")
        #expect(buys.contains { $0 > Fixed6(8) }, "a0 bought with the new sizing after the reload")
        let seconds = try await store.decisionEntries(account: "a1", limit: nil, afterRowID: nil)
        #expect(seconds.allSatisfy { $0.record.trade.wallet == Self.second })
    }
}
