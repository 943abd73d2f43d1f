import Chain
import CopyBot
import CopyEngine
import DevNode
import EVM
import Foundation
import Logging
import Polymarket
import Store
import Synchronization
import Testing

/// `copybot run` (the application in process) against the devnet: a reload that adds a followed
/// wallet mid-stream loses nothing of the wallet already followed and picks up the new one.
@Suite("copybot run reloads the followed wallets", .serialized, .timeLimit(.minutes(3)))
struct ReloadTests {
    static let first = Address(hi: 0xF1F1_0000_0000_0000, mid: 1, lo: 1)
    static let second = Address(hi: 0x5EC0_0000_0000_0000, mid: 2, lo: 2)

    @Test("adding a wallet with a reload: every fill of both decided once, none lost at the seam")
    func addWallet() async throws {
        let contracts = ServiceTestSupport.root.appendingPathComponent("Config/contracts.polygon.yaml").path
        let abi = ServiceTestSupport.root.appendingPathComponent("abi").path
        let registry = try ServiceTestSupport.registry()
        var devnetConfiguration = Devnet.Configuration()
        devnetConfiguration.webSocketPort = 0
        devnetConfiguration.httpPort = 0
        devnetConfiguration.blockInterval = .milliseconds(40)
        devnetConfiguration.maximumBlocks = 160
        devnetConfiguration.chain.seed = 91
        devnetConfiguration.chain.followedWallets = [Self.first, Self.second]
        devnetConfiguration.chain.followedProbability = 0.3
        devnetConfiguration.chain.genesisTimestamp = UInt64(Date().timeIntervalSince1970)
        let devnet = try Devnet(registry: registry, configuration: devnetConfiguration)
        try await devnet.start()
        let startBlock = devnet.chain.blockNumber

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("copybot.sqlite").path
        var configuration = CopyBotConfiguration()
        configuration.chain.wsURLs = [devnet.webSocketURL]
        configuration.chain.httpURLs = [devnet.httpURL]
        configuration.chain.startBlock = .block(startBlock)
        configuration.chain.staleAfter = .seconds(1)
        configuration.contracts.file = contracts
        configuration.contracts.abiDirectory = abi
        configuration.store.url = "sqlite:\(database)"
        configuration.follow.wallets = [.init(address: Self.first)]
        configuration.clob.url = "http://127.0.0.1:9"
        configuration.http.listen = nil
        configuration.copy.risk.killSwitchFile = directory.appendingPathComponent("KILL").path
        let next = Mutex(configuration)
        var logger = Logger(label: "reload-test")
        logger.logLevel = .warning
        let application = CopyBotApplication(
            configuration: configuration, logger: logger, reload: { next.withLock { $0 } })
        let app = Task { try await application.run() }
        let producer = Task { try await devnet.run() }

        while devnet.chain.blockNumber < startBlock + 60 { try await Task.sleep(for: .milliseconds(20)) }
        next.withLock { $0.follow.wallets.append(.init(address: Self.second)) }
        let reloadedAt = devnet.chain.blockNumber
        application.reload()
        try await producer.value
        let head = try #require(devnet.chain.block(tag: .latest))

        // The fills the store must have decided: all of the first wallet's, and the second's
        // from the reload on.
        func canonical(_ wallet: Address, from: UInt64) throws -> Set<LogIdentity> {
            try ServiceTestSupport.canonicalFills(
                devnet, registry: registry, wallets: [wallet], from: from, to: head.number)
        }
        let expectedFirst = try canonical(Self.first, from: startBlock)
        let expectedSecond = try canonical(Self.second, from: reloadedAt + 1)
        let expected = expectedFirst.union(expectedSecond)
        #expect(expectedFirst.count > 10 && expectedSecond.count > 5, "enough fills to mean something")

        let store = try SQLiteStore(path: database)
        var decided = Set<LogIdentity>()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            decided = try await ServiceTestSupport.decided(store)
            if expected.isSubset(of: decided) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        app.cancel()
        _ = try? await app.value
        await devnet.shutdown()
        #expect(
            expectedFirst.subtracting(decided).isEmpty,
            "first wallet: \(expectedFirst.subtracting(decided).count) lost")
        #expect(
            expectedSecond.subtracting(decided).isEmpty,
            "second wallet: \(expectedSecond.subtracting(decided).count) not picked up")
        let decisions = try await store.decisionEntries(account: .default, limit: nil, afterRowID: nil)
        #expect(decisions.count == Set(decisions.map(\.record.key)).count, "one decision per trade")
        #expect(decisions.allSatisfy { [Self.first, Self.second].contains($0.record.trade.wallet) })
    }
}
