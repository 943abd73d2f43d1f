import Chain
import ClobStandIn
import CopyEngine
import DevNode
import EVM
import Foundation
import Polymarket
import Store
import Testing

/// `copybot run` in live mode as a process, against the devnet and the CLOB stand-in (which
/// matches FAK orders against deep books, holds the account's balances, loses order answers and
/// answers nothing to the look-up of a finished market order, as the real CLOB is reported to),
/// killed with SIGKILL at 30 random moments and restarted: no trade is ordered twice, every trade
/// ends with exactly one decision, every copied decision is exactly one order at the stand-in, no
/// order is refused for its amounts, every fill is booked at what the stand-in traded, and the
/// ledger's positions and cash are the stand-in's.
@Suite("copybot run, live, survives 30 kill -9", .serialized, .timeLimit(.minutes(10)))
struct LiveCrashRecoveryTests {
    static let followed: [Address] = (1...2).map {
        Address(hi: 0x11FE_0000_0000_0000 | UInt64($0), mid: 5, lo: UInt32($0))
    }

    @Test("30 SIGKILLs mid-stream in live mode: no order twice, one decision per trade, one order per copy")
    func killNineLive() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let registry = try ServiceTestSupport.registry()
        var configuration = ServiceTestSupport.devnet(
            blocks: 1_000, every: .milliseconds(30), seed: 4_242, following: Self.followed, share: 0.2)
        configuration.chain.markets = 40
        configuration.chain.genesisTimestamp = UInt64(Date().timeIntervalSince1970)
        let devnet = try Devnet(registry: registry, configuration: configuration)
        try await devnet.start()
        let startBlock = devnet.chain.blockNumber

        // The stand-in serves every devnet token with a deep book at every cent, and matches.
        var keyBytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in keyBytes.indices { keyBytes[i] = UInt8.random(in: 0...255, using: &generator) }
        keyBytes[0] = 0x01
        let keyHex = Hex.encode(keyBytes)
        let key = try PrivateKey(hex: keyHex)
        let credentials = ServiceTestSupport.randomCredentials()
        let markets = ServiceTestSupport.deepBooks(devnet)
        var standInConfiguration = ClobStandIn.Configuration(
            credentials: credentials, account: key.address,
            contracts: try ExchangeContracts(
                registry: registry, exchange: "CTFExchangeV2", negRiskExchange: "NegRiskCTFExchangeV2",
                domainVersion: "2"),
            markets: markets)
        standInConfiguration.matchesTakerOrders = true
        // py-clob-client #217: a filled FAK/FOK order's look-up answers nothing.
        standInConfiguration.lookupOmitsFinishedMarketOrders = true
        let standIn = ClobStandIn(configuration: standInConfiguration)
        // The account's money at the exchange is what the ledger starts with.
        standIn.setCollateral(key.address, balance: UInt256(1_000_000_000_000))
        try await standIn.start()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-live-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("copybot.sqlite").path
        let environment = [
            "COPYBOT_CHAIN_WS_URLS": devnet.webSocketURL, "COPYBOT_CHAIN_HTTP_URLS": devnet.httpURL,
            "COPYBOT_STORE_URL": "sqlite:\(database)",
            "COPYBOT_FOLLOW_WALLETS": Self.followed.map(\.checksummed).joined(separator: ","),
            "COPYBOT_CHAIN_START_BLOCK": "\(startBlock)", "COPYBOT_CHAIN_STALE_AFTER": "1",
            "COPYBOT_HTTP_LISTEN": "", "COPYBOT_LOG_LEVEL": "notice",
            "COPYBOT_COPY_MODE": "live", "COPYBOT_PRIVATE_KEY": keyHex,
            "COPYBOT_CLOB_API_KEY": credentials.apiKey, "COPYBOT_CLOB_API_SECRET": credentials.secret,
            "COPYBOT_CLOB_API_PASSPHRASE": credentials.passphrase, "COPYBOT_CLOB_URL": standIn.baseURL,
            "COPYBOT_CLOB_REQUESTS_PER_SECOND": "1000", "COPYBOT_COPY_ORDER_LEASE_SECONDS": "2",
            "COPYBOT_COPY_STARTING_USDC": "1000000", "COPYBOT_COPY_RISK_MAX_TOTAL_EXPOSURE_USDC": "1000000",
            "COPYBOT_COPY_RISK_MAX_POSITION_USDC_PER_MARKET": "100000",
            "COPYBOT_COPY_RISK_MAX_POSITION_USDC_PER_TOKEN": "50000",
            "COPYBOT_COPY_RISK_DAILY_LOSS_LIMIT_USDC": "1000000",
            "COPYBOT_COPY_RISK_MAX_TRADE_AGE_SECONDS": "86400",
            "COPYBOT_COPY_RISK_KILL_SWITCH_FILE": directory.appendingPathComponent("KILL").path,
        ]
        let log = directory.appendingPathComponent("copybot.log")
        let producer = Task { try await devnet.run() }
        var rng = SystemRandomNumberGenerator()
        // Lost answers: the order is placed, its answer never arrives (a dropped connection or a
        // 503 after processing). Two at a time, and only once the ones before were met: on a
        // loaded machine a run may end before it posts, and faults piling up would only keep the
        // circuit breaker open.
        var injected = 0
        var postsAtInjection = -2
        for round in 0..<30 {
            let posts = standIn.requestCount(.postOrder)
            if posts >= postsAtInjection + 2 {
                standIn.inject(
                    round.isMultiple(of: 2)
                        ? .dropConnection(afterProcessing: true)
                        : .serverError(status: 503, afterProcessing: true),
                    on: .postOrder, times: 2)
                injected += 2
                postsAtInjection = posts
            }
            let process = try ServiceTestSupport.startCopybot(environment, log: log)
            try await Task.sleep(for: .milliseconds(Int.random(in: 200...900, using: &rng)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let last = try ServiceTestSupport.startCopybot(environment, log: log)
        try await producer.value
        let head = try #require(devnet.chain.block(tag: .latest))

        // The canonical fills of the followed wallets.
        let expected = try ServiceTestSupport.canonicalFills(
            devnet, registry: registry, wallets: Self.followed, from: startBlock, to: head.number)
        // Wait until every one is decided and no order is left unresolved.
        var decided = Set<LogIdentity>()
        var unresolved: [StoredIntent] = []
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let store = try SQLiteStore(path: database)
            decided = try await ServiceTestSupport.decided(store)
            unresolved = try await store.intents(account: .default, statuses: [.created, .posting])
            if expected.isSubset(of: decided), unresolved.isEmpty { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(await ServiceTestSupport.terminate(last), "SIGTERM stops copybot cleanly")
        await devnet.shutdown()
        await standIn.stop()

        #expect(expected.count > 100, "enough fills to mean something (\(expected.count))")
        #expect(
            expected.subtracting(decided).isEmpty,
            "\(expected.subtracting(decided).count) trades without a decision")
        #expect(unresolved.isEmpty, "\(unresolved.count) orders left unresolved")

        let store = try SQLiteStore(path: database)
        let decisions = try await store.decisionEntries(account: .default, limit: nil, afterRowID: nil)
        #expect(decisions.count == Set(decisions.map(\.record.key)).count, "one decision per trade")
        // No trade ordered twice: one signed order per trade (the salt is derived from the trade).
        let accepted = standIn.acceptedOrders
        let salts = accepted.map(\.order.salt)
        #expect(Set(salts).count == salts.count, "two orders for one trade")
        // Every copied decision is exactly one order at the stand-in, and every order a copy.
        let copiedHashes = decisions.compactMap { entry -> String? in
            if case .copied(let order) = entry.record.decision { return order.orderHash?.hex }
            return nil
        }
        #expect(Set(copiedHashes) == Set(accepted.map(\.orderHash)), "copies and stand-in orders differ")
        let labels = Dictionary(
            grouping: decisions, by: { "\($0.record.decision.kind) \($0.record.decision.label)" }
        )
        .mapValues(\.count)
        #expect(copiedHashes.count > 50, "enough copies (\(copiedHashes.count)): \(labels)")

        // No order refused for its amounts: every copy met the CLOB's market-order precision.
        let refused = standIn.rejections.filter { $0.contains("invalid amounts") || $0.contains("min size") }
        #expect(refused.isEmpty, "refused for their amounts: \(refused.prefix(3))")
        // Every fill booked at what the stand-in traded, to the micro-unit.
        var traded: [String: (shares: Int128, collateral: Int128)] = [:]
        var net: [UInt256: Int128] = [:]
        var cash = Int128(1_000_000) * 1_000_000
        for trade in standIn.trades {
            let shares = Int128(trade.shares)
            let collateral = Int128(trade.collateral)
            traded[trade.takerOrderID.lowercased(), default: (0, 0)].shares += shares
            traded[trade.takerOrderID.lowercased(), default: (0, 0)].collateral += collateral
            net[trade.tokenID, default: 0] += trade.side == .buy ? shares : -shares
            cash += trade.side == .buy ? -collateral : collateral
        }
        var booked = 0
        var pricedBelowLimit = 0
        for entry in decisions {
            guard case .copied(let order) = entry.record.decision,
                let hash = order.orderHash?.hex.lowercased()
            else { continue }
            let atStandIn = traded[hash] ?? (0, 0)
            #expect(
                order.fill.shares.micros == atStandIn.shares
                    && order.fill.collateral.micros == atStandIn.collateral,
                "order \(hash): booked \(order.fill.shares) for \(order.fill.collateral), the stand-in traded \(atStandIn)"
            )
            if order.fill.shares.isPositive {
                booked += 1
                if order.fill.averagePrice != order.intent.limitPrice { pricedBelowLimit += 1 }
            }
        }
        #expect(booked > 50, "enough filled copies (\(booked))")
        // The lost answers were met (at least the first pair: a loaded machine may kill many runs
        // before they post).
        let met = standIn.requestCount(.postOrder) >= postsAtInjection + 2 ? injected : injected - 2
        #expect(met >= 2, "lost answers met: \(met) of \(injected)")
        #expect(pricedBelowLimit > 0, "fills at the book's prices, not the limit (\(pricedBelowLimit))")
        // The ledger is the stand-in's net fills per token, and its cash what they cost.
        let ledger = try await CopyEngine.restoreLedger(
            store: store, account: .default, initialCash: Fixed6(1_000_000),
            day: UnixTime(seconds: Int64(Date().timeIntervalSince1970)).utcDay
        ).ledger
        let positions = ledger.positions.filter { $0.value.shares.isPositive }.mapValues(\.shares.micros)
        #expect(
            positions == net.filter { $0.value != 0 }, "ledger positions differ from the stand-in's net fills"
        )
        #expect(ledger.cash.micros == cash, "ledger cash \(ledger.cash), the stand-in's trades say \(cash)")
        // And the stand-in's own balances agree with both.
        let tokens = standIn.tokens(of: key.address).filter { !$0.value.isZero }.mapValues {
            Int128($0.uint128 ?? 0)
        }
        #expect(tokens == net.filter { $0.value != 0 }, "the stand-in's token balances")
    }
}
