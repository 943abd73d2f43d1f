import AsyncHTTPClient
import ClobStandIn
import CopyBot
import CopyEngine
import EVM
import Foundation
import Logging
import Polymarket
import Synchronization
import Testing

/// The copy engine in live mode through ``ClobGateway`` and the real CLOB client against the
/// local CLOB stand-in on 127.0.0.1: orders signed, posted once, sized by the rules, and faults
/// that never duplicate an order.
@Suite("CLOB gateway: live copies against the stand-in", .timeLimit(.minutes(3)))
struct ClobGatewayTests {
    static let tokenA = UInt256(0xA11CE)
    static let tokenB = UInt256(0xB0B)
    static let condition = "0x" + String(repeating: "cd", count: 32)
    static let target = try! Address("0x1111111111111111111111111111111111111111")

    struct Harness {
        let standIn: ClobStandIn
        let http: HTTPClient
        let gateway: ClobGateway
        let engine: CopyEngine
        let store: InMemoryCopyStateStore
        let key: PrivateKey

        func shutdown() async {
            try? await http.shutdown()
            await standIn.stop()
        }
    }

    static func harness(
        risk: RiskLimits = RiskLimits(maxSlippage: Fixed6("0.02")!),
        breaker: CircuitBreaker.Configuration = .init(), markets custom: [ClobStandIn.Market]? = nil,
        matching: Bool = false, onLoop executor: EventLoopTaskExecutor? = nil
    ) async throws -> Harness {
        let key = PrivateKey.generate()
        let credentials = ServiceTestSupport.randomCredentials()
        let registry = try ServiceTestSupport.registry()
        let contracts = try ExchangeContracts(
            registry: registry, exchange: "CTFExchangeV2", negRiskExchange: "NegRiskCTFExchangeV2",
            domainVersion: "2")
        let markets = [tokenA, tokenB].map { token in
            ClobStandIn.Market(
                tokenID: token, conditionID: condition,
                bids: [BookLevel(price: ExactDecimal("0.49")!, size: ExactDecimal(500))],
                asks: [BookLevel(price: ExactDecimal("0.50")!, size: ExactDecimal(500))])
        }
        var standInConfiguration = ClobStandIn.Configuration(
            credentials: credentials, account: key.address, contracts: contracts, markets: custom ?? markets)
        standInConfiguration.matchesTakerOrders = matching
        let standIn = ClobStandIn(configuration: standInConfiguration)
        try await standIn.start()
        let http =
            executor.map {
                ClobHTTPClient.makeHTTPClient(connectTimeout: .seconds(1), eventLoopGroup: $0.eventLoop)
            } ?? ClobHTTPClient.makeHTTPClient(connectTimeout: .seconds(1))
        let client = ClobHTTPClient(
            configuration: .init(
                baseURL: standIn.baseURL, requestTimeout: .milliseconds(500),
                retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50))),
            http: http, signer: key, credentials: credentials)
        let gateway = ClobGateway(
            client: client, metadata: MarketMetadataCache(source: client), taskExecutor: executor)
        let clock = SystemWallClock()
        let store = InMemoryCopyStateStore()
        let engine = CopyEngine(
            configuration: EngineConfiguration(
                mode: .live, defaultPolicy: CopyPolicy(sizing: .fixedCollateral(Fixed6(5))), risk: risk),
            store: store, gateway: gateway,
            signer: BuilderOrderSigner(builder: OrderBuilder(signer: key), contracts: contracts),
            portfolio: Portfolio(ledger: Ledger(cash: Fixed6(1_000), day: clock.now().utcDay)),
            breaker: CircuitBreaker(configuration: breaker, clock: clock), killSwitch: FlagKillSwitch(),
            clock: clock, logger: Logger(label: "test"))
        return Harness(
            standIn: standIn, http: http, gateway: gateway, engine: engine, store: store, key: key)
    }

    static func trade(
        _ n: UInt64, token: UInt256, side: TradeSide = .buy, price: String, shares: Fixed6 = Fixed6(100)
    ) -> CopyTrade {
        let p = Fixed6(price)!
        let collateral = Fixed6.multiply(shares, p, rounding: .halfEven)!
        let event = TradeEvent(
            exchange: "CTFExchangeV2", contract: .zero, blockNumber: 1_000 + n,
            blockHash: Bytes32(0, 0, 0, n),
            transactionHash: Bytes32(1, 0, 0, n), logIndex: n, orderHash: Bytes32(2, 0, 0, n), wallet: target,
            counterparty: .zero, side: side, tokenId: token, shares: shares.fixedPoint6!,
            collateral: collateral.fixedPoint6!,
            price: Price.of(collateral: collateral.fixedPoint6!.units, shares: shares.fixedPoint6!.units)!,
            fee: FixedPoint6(units: UInt64(0)), removed: false)
        return CopyTrade(identity: TradeIdentity(Bytes32(0, 0, 9, n)), trade: event)
    }

    @Test("book, market and rules come from the CLOB")
    func marketData() async throws {
        let h = try await Self.harness()
        let book = try await h.gateway.book(tokenID: Self.tokenA)
        #expect(book.bestPrice(taking: .buy) == Fixed6("0.5"))
        #expect(book.bestPrice(taking: .sell) == Fixed6("0.49"))
        #expect(book.market == MarketID(try Bytes32(hex: Self.condition)))
        #expect(try await h.gateway.market(of: Self.tokenA) == book.market)
        #expect(try await h.gateway.marketParameters(tokenID: Self.tokenA).tickSize == .hundredth)
        // An unknown token is a definitive answer, not a transport fault.
        await #expect(throws: GatewayError.self) { try await h.gateway.book(tokenID: UInt256(7)) }
        await h.shutdown()
    }

    @Test(
        "a prefetched book stands for the engine's next request of the token, once, unless we ordered since")
    func prefetchedBook() async throws {
        let h = try await Self.harness()
        func market(ask: String) -> ClobStandIn.Market {
            ClobStandIn.Market(
                tokenID: Self.tokenA, conditionID: Self.condition,
                bids: [BookLevel(price: ExactDecimal("0.49")!, size: ExactDecimal(500))],
                asks: [BookLevel(price: ExactDecimal(ask)!, size: ExactDecimal(500))])
        }
        func arrived(_ count: Int) async throws {
            while h.standIn.requestCount(.book) < count { try await Task.sleep(for: .milliseconds(5)) }
        }
        // Announced: the request goes out at once; the book changes before the engine asks.
        h.gateway.prefetchBook(tokenID: Self.tokenA)
        h.gateway.prefetchBook(tokenID: Self.tokenA)  // a duplicate announcement asks nothing more
        try await arrived(1)
        h.standIn.setMarket(market(ask: "0.6"))
        #expect(try await h.gateway.book(tokenID: Self.tokenA).bestPrice(taking: .buy) == Fixed6("0.5"))
        #expect(h.standIn.requestCount(.book) == 1, "the prefetched request served the engine")
        // Used once: the next request is fresh.
        #expect(try await h.gateway.book(tokenID: Self.tokenA).bestPrice(taking: .buy) == Fixed6("0.6"))
        #expect(h.standIn.requestCount(.book) == 2)
        // A book asked for before our own order of the token would not show it: not used. The
        // answer to the order asks again for the trade still waiting, and that book is taken.
        let contracts = try ExchangeContracts(
            registry: try ServiceTestSupport.registry(), exchange: "CTFExchangeV2",
            negRiskExchange: "NegRiskCTFExchangeV2", domainVersion: "2")
        let signer = BuilderOrderSigner(builder: OrderBuilder(signer: h.key), contracts: contracts)
        let parameters = try await h.gateway.marketParameters(tokenID: Self.tokenA)
        func order(_ salt: UInt256) throws -> SignedOrder {
            try signer.sign(
                LimitOrderRequest(
                    tokenId: Self.tokenA, side: .buy, price: ExactDecimal("0.6")!, size: ExactDecimal(10)),
                market: parameters, salt: salt)
        }
        var requests = h.standIn.requestCount(.book)
        h.gateway.prefetchBook(tokenID: Self.tokenA)
        try await arrived(requests + 1)
        h.standIn.setMarket(market(ask: "0.7"))  // our order moves the book
        _ = try await h.gateway.post(try order(UInt256(1)), orderType: .gtc)
        try await arrived(requests + 2)  // asked again at the answer
        h.standIn.setMarket(market(ask: "0.8"))
        #expect(try await h.gateway.book(tokenID: Self.tokenA).bestPrice(taking: .buy) == Fixed6("0.7"))
        #expect(h.standIn.requestCount(.book) == requests + 2, "the book asked for at the answer")
        // Two trades of a token announced: the first takes the prefetched book and orders; the
        // answer requests the second's book, which it then takes without asking again.
        requests = h.standIn.requestCount(.book)
        h.gateway.prefetchBook(tokenID: Self.tokenA)
        h.gateway.prefetchBook(tokenID: Self.tokenA)
        try await arrived(requests + 1)
        #expect(try await h.gateway.book(tokenID: Self.tokenA).bestPrice(taking: .buy) == Fixed6("0.8"))
        h.standIn.setMarket(market(ask: "0.9"))
        _ = try await h.gateway.post(try order(UInt256(2)), orderType: .gtc)
        try await arrived(requests + 2)
        h.standIn.setMarket(market(ask: "0.95"))
        #expect(try await h.gateway.book(tokenID: Self.tokenA).bestPrice(taking: .buy) == Fixed6("0.9"))
        #expect(h.standIn.requestCount(.book) == requests + 2)
        // Nothing announced any more: an order's answer asks for nothing.
        _ = try await h.gateway.post(try order(UInt256(3)), orderType: .gtc)
        #expect(try await h.gateway.book(tokenID: Self.tokenA).bestPrice(taking: .buy) == Fixed6("0.95"))
        #expect(h.standIn.requestCount(.book) == requests + 3)
        await h.shutdown()
    }

    @Test(
        "the next trade of a token gets the book our FAK met, less what it took, without asking again; a book that moved under the order is asked for"
    )
    func bookAfterOurOrder() async throws {
        let asks = [
            BookLevel(price: ExactDecimal("0.52")!, size: ExactDecimal(500)),
            BookLevel(price: ExactDecimal("0.51")!, size: ExactDecimal("12.5")!),
            BookLevel(price: ExactDecimal("0.50")!, size: ExactDecimal(30)),
        ]
        let market = ClobStandIn.Market(
            tokenID: Self.tokenA, conditionID: Self.condition,
            bids: [BookLevel(price: ExactDecimal("0.49")!, size: ExactDecimal(500))], asks: asks)
        let h = try await Self.harness(markets: [market], matching: true)
        let contracts = try ExchangeContracts(
            registry: try ServiceTestSupport.registry(), exchange: "CTFExchangeV2",
            negRiskExchange: "NegRiskCTFExchangeV2", domainVersion: "2")
        let signer = BuilderOrderSigner(builder: OrderBuilder(signer: h.key), contracts: contracts)
        let parameters = try await h.gateway.marketParameters(tokenID: Self.tokenA)
        func buy(_ shares: Int, salt: UInt64) throws -> SignedOrder {
            try signer.sign(
                LimitOrderRequest(
                    tokenId: Self.tokenA, side: .buy, price: ExactDecimal("0.51")!,
                    size: ExactDecimal(shares)),
                market: parameters, salt: UInt256(salt))
        }
        // Book requests from here on (the market's rules above may have read one).
        let before = h.standIn.requestCount(.book)
        func requests() -> Int { h.standIn.requestCount(.book) - before }
        func arrived(_ count: Int) async throws {
            while requests() < count { try await Task.sleep(for: .milliseconds(5)) }
        }
        // Two trades of the token announced: the first takes the prefetched book and orders.
        h.gateway.prefetchBook(tokenID: Self.tokenA)
        h.gateway.prefetchBook(tokenID: Self.tokenA)
        try await arrived(1)
        let first = try await h.gateway.book(tokenID: Self.tokenA)
        #expect(first.bestPrice(taking: .buy) == Fixed6("0.5"))
        // A market BUY spends its collateral, $20.40, at the asks' prices (the taker gets the
        // surplus shares, py-clob-client-v2 #89): 30 @ 0.50 for $15, then 10.588235 of the 12.5
        // @ 0.51 for $5.399999, as the stand-in matches it.
        let answer = try await h.gateway.post(try buy(40, salt: 1), orderType: .fak)
        #expect(answer.status == .matched)
        #expect(answer.matchedShares == Fixed6("40.588235"))
        #expect(answer.matchedCollateral == Fixed6("20.399999"))
        // The second trade's book comes from the answer, and is the book the CLOB now has.
        let second = try await h.gateway.book(tokenID: Self.tokenA)
        #expect(requests() == 1, "no request: derived from the answer")
        let fresh = try await h.gateway.book(tokenID: Self.tokenA)
        #expect(requests() == 2)
        #expect(second.asks == fresh.asks)
        #expect(second.bids == fresh.bids)
        #expect(second.asks.first == PriceLevel(price: Fixed6("0.51")!, size: Fixed6("1.911765")!))
        #expect(second.market == first.market)
        #expect(second.parameters == first.parameters)

        // The book moves between our read and our order: the answer is not what the read book
        // predicts, so the next trade's book is asked for at the answer.
        h.gateway.prefetchBook(tokenID: Self.tokenA)
        h.gateway.prefetchBook(tokenID: Self.tokenA)
        try await arrived(3)
        _ = try await h.gateway.book(tokenID: Self.tokenA)
        var moved = market
        moved.asks = [BookLevel(price: ExactDecimal("0.51")!, size: ExactDecimal(8))]
        h.standIn.setMarket(moved)
        let partial = try await h.gateway.post(try buy(20, salt: 2), orderType: .fak)
        #expect(partial.matchedShares == Fixed6(8))
        try await arrived(4)
        let asked = try await h.gateway.book(tokenID: Self.tokenA)
        #expect(requests() == 4, "asked for at the answer, then taken")
        #expect(asked.asks.isEmpty, "the CLOB's book: the 8 shares were taken")
        await h.shutdown()
    }

    /// Runs `trades` through the pipeline and the harness's engine; returns each trade's decision
    /// in completion order.
    static func run(_ trades: [CopyTrade], _ h: Harness) async throws -> [(TradeIdentity, CopyDecision)] {
        let decisions = Mutex<[(TradeIdentity, CopyDecision)]>([])
        let stream = AsyncStream<CopyTrade> { continuation in
            for trade in trades { continuation.yield(trade) }
            continuation.finish()
        }
        try await CopyPipeline(maxConcurrency: 4, maxBuffered: 16).run(
            stream, engine: h.engine, trade: { $0 },
            completed: { trade, decision in decisions.withLock { $0.append((trade.identity, decision)) } })
        return decisions.withLock { $0 }
    }

    @Test(
        "two BUYs of a token: the second is sent while the first waits for its answer; a SELL after them waits for both"
    )
    func sameSideOverlaps() async throws {
        let h = try await Self.harness(matching: true)
        // The first order's answer (and its effect) comes 300 ms late.
        h.standIn.inject(.delay(.milliseconds(300), afterProcessing: false), on: .postOrder)
        let trades = [
            Self.trade(1, token: Self.tokenA, side: .buy, price: "0.50"),
            Self.trade(2, token: Self.tokenA, side: .buy, price: "0.50"),
            Self.trade(3, token: Self.tokenA, side: .sell, price: "0.49"),
        ]
        let decisions = try await Self.run(trades, h)
        #expect(decisions.map(\.0) == trades.map(\.identity), "completed in order")
        let hashes = decisions.map { _, decision -> String? in
            if case .copied(let order) = decision { return order.orderHash?.hex }
            return nil
        }
        #expect(hashes.allSatisfy { $0 != nil }, "\(decisions.map(\.1))")
        // One BUY arrived while the other waited for its answer (the first to arrive is the one
        // held 300 ms); the SELL arrived after both were answered.
        let accepted = h.standIn.acceptedOrders
        #expect(Set(accepted.map(\.orderHash)) == Set(hashes.compactMap { $0 }))
        let buys = accepted.filter { $0.order.side == .buy }.sorted { $0.arrivedAt < $1.arrivedAt }
        #expect(buys.count == 2)
        #expect(buys[1].arrivedAt < buys[0].receivedAt, "the second BUY did not wait for the first's answer")
        #expect(accepted.last!.orderHash == hashes[2])
        #expect(accepted.last!.arrivedAt > buys.map(\.receivedAt).max()!, "the SELL waited for both")
        let sell = h.standIn.acceptedOrders.last!.order
        #expect(sell.side == .sell)
        // The SELL is sized on what both BUYs bought (half of it: the target sold half of its 200).
        let bought = h.standIn.acceptedOrders.prefix(2).reduce(UInt128(0)) { $0 + $1.matchedShares }
        #expect(sell.makerAmount.uint128 == bought / 2 / 10_000 * 10_000)
        await h.shutdown()
    }

    @Test("a BUY decided beside our BUY in flight is priced on the book less what that one may take")
    func overlapPricedOnPrediction() async throws {
        // 10 shares at the target's price, the rest beyond the 2% slippage limit: the first BUY
        // (5 USDC at most 0.51: 9.8 shares, which cost $4.99 to the cent as a market order; at
        // 0.50 that buys 9.98) fits in them, two do not.
        let market = ClobStandIn.Market(
            tokenID: Self.tokenA, conditionID: Self.condition,
            bids: [BookLevel(price: ExactDecimal("0.49")!, size: ExactDecimal(500))],
            asks: [
                BookLevel(price: ExactDecimal("0.53")!, size: ExactDecimal(500)),
                BookLevel(price: ExactDecimal("0.50")!, size: ExactDecimal(10)),
            ])
        let h = try await Self.harness(markets: [market], matching: true)
        // The first order takes effect 300 ms late: a book read meanwhile still shows the 10 shares.
        h.standIn.inject(.delay(.milliseconds(300), afterProcessing: false), on: .postOrder)
        let trades = [
            Self.trade(1, token: Self.tokenA, side: .buy, price: "0.50"),
            Self.trade(2, token: Self.tokenA, side: .buy, price: "0.50"),
        ]
        let decisions = try await Self.run(trades, h)
        await h.shutdown()
        guard decisions.count == 2, case .copied(let first) = decisions[0].1 else {
            Issue.record("the first BUY is copied: \(decisions)")
            return
        }
        #expect(first.fill.shares == Fixed6("9.98"))
        guard case .skipped(.slippage(_, _, let bookPrice, _, _, _)) = decisions[1].1 else {
            Issue.record("the second BUY is skipped for slippage: \(decisions[1].1)")
            return
        }
        #expect(bookPrice == Fixed6("0.53"), "priced past the 9.8 shares the first order may take")
        #expect(h.standIn.acceptedOrders.count == 1)
    }

    @Test("the book after an order: only a taker order's answer that the book bears out, within rounding")
    func bookAfterAnswer() throws {
        let key = PrivateKey.generate()
        let contracts = try ExchangeContracts(
            registry: try ServiceTestSupport.registry(), exchange: "CTFExchangeV2",
            negRiskExchange: "NegRiskCTFExchangeV2", domainVersion: "2")
        let signer = BuilderOrderSigner(builder: OrderBuilder(signer: key), contracts: contracts)
        let parameters = MarketParameters(tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false)
        // SELL 10 at 0.30 or better into bids 0.3333 × 3, 0.40 × 2, 0.20 × 50.
        let sell = try signer.sign(
            LimitOrderRequest(
                tokenId: Self.tokenA, side: .sell, price: ExactDecimal("0.3")!, size: ExactDecimal(10)),
            market: parameters, salt: UInt256(7))
        let book = MarketBook(
            tokenId: Self.tokenA,
            bids: [
                PriceLevel(price: Fixed6("0.3333")!, size: Fixed6(3)),
                PriceLevel(price: Fixed6("0.4")!, size: Fixed6(2)),
                PriceLevel(price: Fixed6("0.2")!, size: Fixed6(50)),
            ], asks: [])
        func answer(_ status: ExchangeOrderStatus, shares: String, collateral: String) -> ExchangeOrder {
            ExchangeOrder(
                orderHash: sell.orderHash, status: status, matchedShares: Fixed6(shares)!,
                matchedCollateral: Fixed6(collateral)!)
        }
        // 2 @ 0.40 + 3 @ 0.3333 = 1.7999; one millionth per level either way is rounding.
        for collateral in ["1.7999", "1.799898", "1.799902"] {
            let left = ClobGateway.book(
                book, after: sell, orderType: .fak,
                answer: answer(.matched, shares: "5", collateral: collateral))
            #expect(left?.bids == [PriceLevel(price: Fixed6("0.2")!, size: Fixed6(50))], "\(collateral)")
        }
        // Other prices, other shares, a resting order or a GTC: not this book.
        #expect(
            ClobGateway.book(
                book, after: sell, orderType: .fak,
                answer: answer(.matched, shares: "5", collateral: "1.7996")) == nil)
        #expect(
            ClobGateway.book(
                book, after: sell, orderType: .fak,
                answer: answer(.matched, shares: "4", collateral: "1.4666")) == nil)
        #expect(
            ClobGateway.book(
                book, after: sell, orderType: .fak, answer: answer(.live, shares: "5", collateral: "1.7999"))
                == nil)
        #expect(
            ClobGateway.book(
                book, after: sell, orderType: .gtc,
                answer: answer(.matched, shares: "5", collateral: "1.7999")) == nil)
        // A FOK the book cannot fill matches nothing and leaves it as it was.
        let unfilled = ClobGateway.book(
            book, after: sell, orderType: .fok, answer: answer(.unmatched, shares: "0", collateral: "0"))
        #expect(unfilled?.bids == book.bids)
        #expect(
            ClobGateway.book(
                book, after: sell, orderType: .fok,
                answer: answer(.matched, shares: "5", collateral: "1.7999")) == nil)
    }

    @Test("each trade is one signed order at the stand-in, sized by the rules")
    func liveCopies() async throws {
        let h = try await Self.harness()
        let prices = ["0.50", "0.51", "0.50", "0.51", "0.50", "0.51"]
        for (i, price) in prices.enumerated() {
            let token = i % 2 == 0 ? Self.tokenA : Self.tokenB
            let decision = await h.engine.handle(Self.trade(UInt64(i + 1), token: token, price: price))
            guard case .copied(let order) = decision else {
                Issue.record("trade \(i): \(decision.explanation)")
                continue
            }
            #expect(order.orderHash != nil)
        }
        // Handling the same trades again changes nothing.
        for (i, price) in prices.enumerated() {
            _ = await h.engine.handle(
                Self.trade(UInt64(i + 1), token: i % 2 == 0 ? Self.tokenA : Self.tokenB, price: price))
        }
        let accepted = h.standIn.acceptedOrders
        #expect(accepted.count == prices.count)
        #expect(Set(accepted.map(\.orderHash)).count == accepted.count)
        for (order, price) in zip(accepted, prices) {
            #expect(order.recoveredSigner == h.key.address)
            #expect(order.orderType == "FAK")
            // Independently from the rules: limit = price × 1.02 down to the cent; shares =
            // floor(5 / limit) to the hundredth; a market order spends what they cost at the
            // limit to the cent, for at least that / limit shares to 4 decimals (the CLOB's
            // market-order precision).
            let limitCents = (Int(Double(price)! * 100 * 1.02 + 1e-9))
            let shareCents = 500 * 100 / limitCents
            let collateralCents = shareCents * limitCents / 100
            let minimumShares = collateralCents * 1_000_000 / limitCents / 100 * 100
            #expect(order.order.side == .buy)
            #expect(order.order.makerAmount == UInt256(UInt64(collateralCents) * 10_000))
            #expect(order.order.takerAmount == UInt256(UInt64(minimumShares)))
        }
        await h.shutdown()
    }

    @Test("a response lost after the order was accepted is found by look-up: one order, copied")
    func lostResponse() async throws {
        let h = try await Self.harness()
        h.standIn.inject(.dropConnection(afterProcessing: true), on: .postOrder)
        let decision = await h.engine.handle(Self.trade(1, token: Self.tokenA, price: "0.50"))
        if case .copied = decision {} else { Issue.record("expected copied, got \(decision.explanation)") }
        #expect(h.standIn.acceptedOrders.count == 1)
        await h.shutdown()
    }

    @Test("server errors open the breaker; no order is duplicated, and later trades are skipped")
    func breakerOpens() async throws {
        let h = try await Self.harness(breaker: .init(consecutiveFailures: 3, cooldownSeconds: 600))
        h.standIn.inject(.serverError(status: 500, afterProcessing: false), on: .postOrder, times: 1_000)
        h.standIn.inject(.serverError(status: 500, afterProcessing: false), on: .lookup, times: 1_000)
        var decisions: [CopyDecision] = []
        for n in 1...5 {
            decisions.append(await h.engine.handle(Self.trade(UInt64(n), token: Self.tokenA, price: "0.50")))
        }
        #expect(h.engine.breaker.state != .closed)
        if case .skipped(.breakerOpen) = decisions.last! {
        } else {
            Issue.record("expected breaker_open, got \(decisions.last!.explanation)")
        }
        // Orders whose outcome is unknown stay unresolved intents, never re-signed or re-posted blind.
        let intents = h.store.allIntents
        #expect(Set(intents.compactMap(\.orderHash)).count == intents.compactMap(\.orderHash).count)
        #expect(h.standIn.acceptedOrders.isEmpty)
        await h.shutdown()
    }

    @Test("503 (trading disabled) counts against the breaker and places nothing")
    func tradingDisabled() async throws {
        let h = try await Self.harness(breaker: .init(consecutiveFailures: 2, cooldownSeconds: 600))
        h.standIn.inject(.serverError(status: 503, afterProcessing: false), on: .postOrder, times: 1_000)
        for n in 1...3 { _ = await h.engine.handle(Self.trade(UInt64(n), token: Self.tokenB, price: "0.50")) }
        #expect(h.engine.breaker.state != .closed)
        #expect(h.standIn.acceptedOrders.isEmpty)
        await h.shutdown()
    }

    @Test("1,000 trades across 50 tokens through the pipeline: one decision each, orders within the rules")
    func thousandTrades() async throws {
        // 50 tokens, each its own market, with a book around a mid price.
        var rng = SystemRandomNumberGenerator()
        let tokens = (1...50).map { UInt256(UInt64(0x70_0000 + $0)) }
        var mids: [UInt256: Int] = [:]  // cents
        let markets = tokens.map { token -> ClobStandIn.Market in
            let mid = Int.random(in: 20...80, using: &rng)
            mids[token] = mid
            func level(_ cents: Int, _ size: Int) -> BookLevel {
                BookLevel(
                    price: ExactDecimal("0.\(String(format: "%02d", cents))")!, size: ExactDecimal(size))
            }
            return ClobStandIn.Market(
                tokenID: token,
                conditionID: "0x" + String(repeating: "0", count: 56)
                    + String(format: "%08x", mid * 1000 + Int(token.w3 & 0xFFF)),
                bids: [level(mid - 3, 5_000), level(mid - 2, 40), level(mid - 1, 40)],
                asks: [level(mid + 2, 5_000), level(mid + 1, 40), level(mid, 40)])
        }
        let maxPerToken = Fixed6(20)
        let h = try await Self.harness(
            risk: RiskLimits(
                minOrderCollateral: Fixed6(1), maxOrderCollateral: Fixed6(50),
                maxPositionPerToken: maxPerToken,
                maxSlippage: Fixed6("0.05")!),
            markets: markets, matching: true)
        // The target: buys 70% of the time, sells what it bought otherwise, near the mid.
        var trades: [CopyTrade] = []
        var held: [UInt256: Int] = [:]
        for n in 1...1_000 {
            let token = tokens.randomElement(using: &rng)!
            let mid = mids[token]!
            let sell = (held[token] ?? 0) > 0 && Int.random(in: 0..<10, using: &rng) < 3
            let shares = Int.random(in: 20...200, using: &rng)
            if sell {
                let sold = min(shares, held[token]!)
                held[token]! -= sold
                trades.append(
                    Self.trade(
                        UInt64(n), token: token, side: .sell, price: "0.\(String(format: "%02d", mid - 1))",
                        shares: Fixed6(sold)))
            } else {
                held[token, default: 0] += shares
                trades.append(
                    Self.trade(
                        UInt64(n), token: token, side: .buy, price: "0.\(String(format: "%02d", mid))",
                        shares: Fixed6(shares)))
            }
        }
        let decisions = Mutex<[TradeIdentity: [CopyDecision]]>([:])
        let stream = AsyncStream<CopyTrade> { continuation in
            for trade in trades { continuation.yield(trade) }
            continuation.finish()
        }
        try await CopyPipeline(maxConcurrency: 8, maxBuffered: 64).run(
            stream, engine: h.engine, trade: { $0 },
            completed: { trade, decision in
                decisions.withLock { $0[trade.identity, default: []].append(decision) }
            })

        // Every trade: exactly one decision.
        let all = decisions.withLock { $0 }
        #expect(all.count == trades.count)
        #expect(all.values.allSatisfy { $0.count == 1 })
        let copied = all.values.compactMap { list -> CopiedOrder? in
            if case .copied(let order) = list[0] { return order } else { return nil }
        }
        // The stand-in received exactly the copied orders, each once.
        let accepted = h.standIn.acceptedOrders
        #expect(accepted.count == copied.count)
        #expect(Set(accepted.map(\.orderHash)) == Set(copied.compactMap { $0.orderHash?.hex }))
        #expect(copied.count > 100, "enough copies to mean something (\(copied.count))")

        // The orders against the rules, from the stand-in's records in the order it received them.
        var position: [UInt256: (shares: Int128, cost: Int128)] = [:]
        for order in accepted {
            let o = order.order
            let token = o.tokenId
            let mid = Int128(mids[token]!)
            let shares = Int128(o.side == .buy ? o.takerAmount.uint128! : o.makerAmount.uint128!)
            let amount = Int128(o.side == .buy ? o.makerAmount.uint128! : o.takerAmount.uint128!)
            #expect(order.orderType == "FAK")
            #expect(shares >= 5_000_000, "at least the market's minimum size")
            // The CLOB's market-order precision: maker to 2 decimals, taker to 4.
            #expect(o.makerAmount.uint128! % 10_000 == 0 && o.takerAmount.uint128! % 100 == 0)
            // The worst price is on the cent (the limit).
            let worst = MarketOrderAmounts.worstPrice(
                side: o.side, OrderAmounts(makerAmount: o.makerAmount, takerAmount: o.takerAmount),
                tick: .hundredth)
            #expect(worst.map { $0 % 10_000 == 0 } == true, "worst price on the tick")
            let matched = Int128(order.matchedShares)
            let paid = Int128(order.matchedCollateral)
            switch o.side {
            case .buy:
                #expect(amount <= 5_000_000, "a BUY spends at most the fixed 5 USDC")
                #expect(
                    Int128(worst ?? 0) * 100 <= mid * 105 * 10_000 + 100,
                    "BUY limit within 5% above the target")
                // The position limit binds on cost basis before the order.
                #expect(position[token, default: (0, 0)].cost + amount <= 20_000_000)
                position[token, default: (0, 0)].shares += matched
                position[token, default: (0, 0)].cost += paid
            case .sell:
                #expect(shares <= position[token, default: (0, 0)].shares, "never sells more than held")
                let held = position[token, default: (0, 0)]
                if held.shares > 0 {
                    position[token]!.cost -= held.cost * matched / held.shares
                }
                position[token, default: (0, 0)].shares -= matched
            }
        }
        // The engine's ledger agrees with what the stand-in matched.
        let ledger = h.engine.portfolio.ledger
        for (token, p) in position where p.shares > 0 {
            #expect(ledger.shares(token).micros == p.shares, "token \(token): ledger vs stand-in")
        }
        await h.shutdown()
    }
}
