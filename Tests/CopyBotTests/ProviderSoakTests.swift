import Chain
import CopyEngine
import DevNode
import EVM
import Foundation
import Polymarket
import Store
import Testing

/// `copybot run` (paper, SQLite) against a devnet that misbehaves like real providers in every way
/// at once, killed with SIGKILL at random moments, checked against the devnet's own record.
///
/// CI runs it for 90 seconds with 6 kills. The long run the listener is judged by:
/// `COPYBOT_SOAK_SECONDS=1200 COPYBOT_SOAK_KILLS=20 swift test --filter ProviderSoak`.
@Suite("copybot run against misbehaving providers, killed with -9", .serialized, .timeLimit(.minutes(40)))
struct ProviderSoakTests {
    static let followed: [Address] = (1...2).map {
        Address(hi: 0x50A4_0000_0000_0000 | UInt64($0), mid: 9, lo: UInt32($0))
    }

    static func setting(_ name: String, _ fallback: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap(Int.init) ?? fallback
    }

    @Test("all provider faults, reorgs re-mined, SIGKILLs: exactly the canonical trades, each decided once")
    func soak() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let seconds = Self.setting("COPYBOT_SOAK_SECONDS", 90)
        let kills = Self.setting("COPYBOT_SOAK_KILLS", 6)
        let interval = Duration.milliseconds(100)
        let registry = try ServiceTestSupport.registry()
        var configuration = ServiceTestSupport.devnet(
            blocks: seconds * 10, every: interval, seed: 2_023, following: Self.followed, share: 0.2)
        configuration.chain.fillsPerBlock = 2...6
        // Few markets: each followed wallet trades each token many times, so that reorgs move and
        // remove trades inside one holding.
        configuration.chain.markets = 8
        var faults = DevnetFaults()
        faults.reorgEvery = 40
        faults.reorgDepth = 1...10
        faults.remineOrphanedTransactions = 0.7
        faults.remineDelay = 1...4
        faults.getLogsMaxRange = 50
        faults.rangeErrorDialect = .random
        faults.laggingBackends = DevnetLaggingBackends(count: 4, maximumLag: 3, pastHead: .mixed)
        faults.transientErrorRate = 0.03
        faults.duplicateNotifications = 0.05
        faults.staleSubscriptions = 0.002
        faults.dropConnectionEvery = .seconds(20)
        faults.malformedFrames = 0.01
        configuration.faults = faults
        let devnet = try Devnet(registry: registry, configuration: configuration)
        try await devnet.start()
        let startBlock = devnet.chain.blockNumber
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-soak-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("copybot.sqlite").path
        var environment = ServiceTestSupport.paperEnvironment(
            devnet: devnet, store: "sqlite:\(database)", startBlock: startBlock)
        environment["COPYBOT_FOLLOW_WALLETS"] = Self.followed.map(\.checksummed).joined(separator: ",")
        // The store keeps the identities it delivered within the reorg window: wider than the run,
        // so that all of them can be counted (a 20-minute run has 12,000 blocks).
        environment["COPYBOT_CHAIN_REORG_WINDOW"] = "\(seconds * 10 + 1_000)"
        let log = directory.appendingPathComponent("copybot.log")
        let producer = Task { try await devnet.run() }
        // Kill moments spread over the run, each at a random point of its slot.
        let slot = Double(seconds) / Double(kills + 1)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<kills {
            let process = try ServiceTestSupport.startCopybot(environment, log: log)
            try await Task.sleep(for: .seconds(slot * Double.random(in: 0.6...1.4, using: &rng)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
        }
        let last = try ServiceTestSupport.startCopybot(environment, log: log)
        try await producer.value
        // The chain stopped. The devnet counts a backend's lag in chain updates, so a lagging
        // backend would now stay behind for good; a real pool's backends catch up within a block.
        devnet.faults.update { $0.laggingBackends = nil }
        let head = try #require(devnet.chain.block(tag: .latest))
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(180)
        var checkpoint: BlockRef? = nil
        while clock.now < deadline {
            checkpoint = try await SQLiteStore(path: database).loadState(stream: "polygon")?.cursor
            if checkpoint == BlockRef(number: head.number, hash: head.hash) { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(
            checkpoint?.number == head.number,
            "the service caught up with the head; the log's end:\n\(ServiceTestSupport.tail(of: log))")
        let undecided = try await ServiceTestSupport.undecided(
            { try SQLiteStore(path: database) }, until: deadline)
        #expect(undecided.isEmpty, "\(undecided.count) delivered trades without a decision")
        #expect(await ServiceTestSupport.terminate(last), "SIGTERM stops copybot cleanly")
        await devnet.shutdown()

        // The devnet's own record: the canonical fills of the followed wallets at the end.
        let canonical = try ServiceTestSupport.canonicalFills(
            devnet, registry: registry, wallets: Self.followed, from: startBlock, to: head.number)
        let store = try SQLiteStore(path: database)
        let stored = try await store.liveIdentities(stream: "polygon", aboveBlock: 0)
        #expect(canonical.count > 100, "enough fills to mean something (\(canonical.count))")
        #expect(
            canonical.subtracting(stored.keys).isEmpty, "missed \(canonical.subtracting(stored.keys).count)")
        #expect(Set(stored.keys).subtracting(canonical).isEmpty, "orphans not retracted")
        let entries = try await store.decisionEntries(account: .default, limit: nil, afterRowID: nil)
        let byIdentity = Dictionary(grouping: entries) { LogIdentity(hash: $0.record.key.identity.bytes) }
        #expect(byIdentity.values.allSatisfy { $0.count == 1 }, "one decision per trade")
        // A decision stays retracted only if its trade is off the final chain, and every canonical
        // trade's decision is live, at the block and log index where the chain has it now.
        let retractedCanonical = entries.filter { $0.record.retracted }.filter {
            canonical.contains(LogIdentity(hash: $0.record.key.identity.bytes))
        }
        #expect(retractedCanonical.isEmpty, "\(retractedCanonical.count) canonical trades shown as retracted")
        var misplaced = 0
        for entry in entries where !entry.record.retracted {
            let trade = entry.record.trade
            let block = devnet.chain.block(number: trade.blockNumber)
            let there = block?.logs.contains {
                $0.transactionHash == trade.transactionHash && $0.logIndex == trade.logIndex
            }
            if there != true { misplaced += 1 }
        }
        #expect(misplaced == 0, "\(misplaced) decisions at a block and log index the chain no longer has")
        // Each followed wallet's holding of each token it traded (even only in orphaned blocks) is
        // its canonical trades folded in chain order: BUYs add, SELLs take off, never below zero
        // (a devnet wallet sells shares it never bought, as a real one does with shares it got by
        // splitting collateral).
        let makers = Set(Self.followed)
        var expected: [HoldingKey: Fixed6] = [:]
        for fill in devnet.chain.orphanedFills(makers: makers) where fill.blockNumber >= startBlock {
            expected[HoldingKey(wallet: fill.maker, token: fill.template.tokenId)] = .zero
        }
        for fill in devnet.chain.canonicalFills(makers: makers) where fill.blockNumber >= startBlock {
            let key = HoldingKey(wallet: fill.maker, token: fill.template.tokenId)
            let shares = Fixed6(micros: Int128(fill.template.shares))
            let before = expected[key] ?? .zero
            expected[key] = fill.template.side == .buy ? before + shares : (before - shares).clampedAtZero
        }
        var wrongHoldings: [String] = []
        for (key, shares) in expected {
            let tracked = try await store.targetHolding(wallet: key.wallet, tokenId: key.token)
            if tracked != shares {
                wrongHoldings.append("\(key.wallet) \(key.token): \(tracked), not \(shares)")
            }
        }
        #expect(expected.count >= 10, "enough holdings to mean something (\(expected.count))")
        #expect(
            wrongHoldings.isEmpty,
            "holdings off the canonical trades:\n\(wrongHoldings.joined(separator: "\n"))")
        let remined = devnet.chain.reminedTransactions.count
        print(
            "provider-soak: \(seconds) s, \(kills) SIGKILLs, blocks \(startBlock)...\(head.number), \(canonical.count) canonical followed fills, \(entries.count) decisions, \(remined) transactions re-mined, \(expected.count) holdings checked"
        )
    }

    /// A followed wallet's holding of one token.
    struct HoldingKey: Hashable {
        var wallet: Address
        var token: UInt256
    }
}
